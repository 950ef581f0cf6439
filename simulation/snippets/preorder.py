# A mistake: a pre-order search (each node before its children), never reversed: [c, a, b, 3] for
# c = a + b, b = a * 3, where b must come before a.


def find_reversed_topological_order(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(reversed(node.children))
    return order
