"""Partial work: what is written scores, what is not costs exactly its own checks."""

from __future__ import annotations

from simulation.builders import no_train
from simulation.expectations import DISTINCT_NODES, NEURON_GRAPH, TRAINING, Case, named

CASES: tuple[Case, ...] = (
    # -- partial work: every check of an unwritten piece fails, every other one passes ---------------
    Case("part_blank", "the release handed in untouched", lambda k: k.release),
    Case("part_only_ex1", "only exercise 1", lambda k: k.solved(k.only("ex1")), passes=DISTINCT_NODES),
    Case("part_ex1_ex2", "exercises 1 and 2", lambda k: k.solved(k.only("ex1", "ex2"))),
    Case(
        "part_only_ex3",
        "only exercise 3: the network and its training are right, the engine is not written",
        lambda k: k.solved(k.only("ex3")),
        # the checks that compute with Values pass only with the reference Value
        carried=named(
            "ex3_neuron/output",
            "ex3_neuron/linear_neuron",
            "ex3_layer/output_list",
            "ex3_layer/one_neuron_still_a_list",
            "ex3_layer/linear_layer",
            "ex3_mlp/output_list",
            "ex3_mlp/last_layer_linear",
            "ex3_mlp/deeper_network",
            "ex3_mlp/single_layer",
        ).keys()
        | NEURON_GRAPH
        | TRAINING,
    ),
    Case(
        "part_no_train",
        "Neuron, Layer and MLP written, train left as released",
        lambda k: k.solved(no_train(k)),
    ),
)
