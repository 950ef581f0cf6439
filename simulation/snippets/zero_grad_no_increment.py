# MLP.zero_grad that loops forever: `i += 1` forgotten.


class MLP:
    def zero_grad(self):
        params = self.parameters()
        i = 0
        while i < len(params):
            params[i].grad = 0.0
