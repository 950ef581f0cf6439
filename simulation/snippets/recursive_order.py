# find_reversed_topological_order written as a recursive depth-first search (a correct alternative).


def find_reversed_topological_order(root):
    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node.children:
            visit(child)
        order.append(node)

    visit(root)
    return order[::-1]
