# Neuron.__call__ with sum(..., start=bias) instead of a loop (a correct alternative).


class Neuron:
    def __call__(self, x):
        activation = sum((w * xi for w, xi in zip(self.weights, x)), self.bias)
        return activation.tanh() if self.non_linear else activation
