# A mistake: a Layer of one neuron returns the bare Value, not a list.


class Layer:
    def __call__(self, x):
        outs = [neuron(x) for neuron in self.neurons]
        return outs[0] if len(outs) == 1 else outs
