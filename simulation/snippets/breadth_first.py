# A mistake: a breadth-first search from the root, level by level, which puts a node reached by a
# short path before the nodes of a longer path to it.


def find_reversed_topological_order(root):
    order, seen, i = [root], {id(root)}, 0
    while i < len(order):
        for child in order[i].children:
            if id(child) not in seen:
                seen.add(id(child))
                order.append(child)
        i += 1
    return order
