"""Check a SavedModel's graph before running it: a SavedModel is a program, not data.

`tf.saved_model.load` restores the functions of a SavedModel and calling its signature runs whatever
ops they hold, including ops that read or write files (`ReadFile`, `WriteFile`, `SaveV2`), start
processes or run Python (`PyFunc`, `EagerPyFunc`). `check_savedmodel(path)` reads `saved_model.pb`
without loading it and compares every op of the top-level graph and of every function in its library
with `ALLOWED_OPS` (arithmetic, neural-network, shape, control-flow and variable ops). The checkpoint
functions that only the saver calls may also hold `SAVER_OPS` (TF's loader restores the variables
itself and never runs them). Anything else raises `ModelFileError` naming the ops and where they are;
`trust=True` (the CLI's `--trust-savedmodel`) skips the check for a SavedModel from a trusted source.
"""

from __future__ import annotations

import os

from keras_gst.errors import ModelFileError

# Ops of inference graphs: what keras_gst's clip and streaming exports use, and the usual math, NN,
# shape and control-flow ops of other vision models. No op here touches files, processes or Python.
ALLOWED_OPS = frozenset("""
Abs Add AddN AddV2 All Any ArgMax ArgMin Assert DisableCopyOnRead AssignAddVariableOp AssignSubVariableOp AssignVariableOp AvgPool
AvgPool3D BatchMatMul BatchMatMulV2 BatchMatMulV3 BatchToSpaceND BiasAdd Bitcast BroadcastArgs BroadcastTo Cast Ceil
CheckNumerics ClipByValue Complex ComplexAbs Concat ConcatV2 Const Conv2D Conv2DBackpropInput Conv3D
Conv3DBackpropInputV2 Cos Cosh Cumsum DepthToSpace DepthwiseConv2dNative DestroyResourceOp DivNoNan Div Einsum Elu
Enter Equal Erf Exit Exp ExpandDims Expm1 FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars Fill Floor FloorDiv
FloorMod FusedBatchNorm FusedBatchNormV3 GatherNd GatherV2 Greater GreaterEqual Identity IdentityN If Imag
IsFinite IsInf IsNan L2Loss LeakyRelu Less LessEqual Log Log1p LogSoftmax LogicalAnd LogicalNot LogicalOr
LoopCond MatMul Max MaxPool MaxPool3D MaxPoolV2 Maximum Mean Merge Min Minimum Mod Mul Neg NextIteration NoOp
NotEqual OneHot OnesLike Pack Pad PadV2 PartitionedCall Placeholder PlaceholderWithDefault Pow Prod Range Rank
ReadVariableOp Real RealDiv Reciprocal Relu Relu6 Reshape ResizeBilinear ResizeNearestNeighbor ResourceGather
Reverse ReverseV2 Round Rsqrt Select SelectV2 Selu Shape ShapeN Sigmoid Sign Sin Sinh Size Slice Snapshot Softmax
Softplus Softsign SpaceToBatchND SpaceToDepth Split SplitV Sqrt Square SquaredDifference Squeeze
StatefulPartitionedCall StatelessIf StatelessWhile StopGradient StridedSlice Sub Sum Switch Tan Tanh
TensorListFromTensor TensorListGetItem TensorListLength TensorListReserve TensorListSetItem TensorListStack Tile
TopKV2 Transpose Unpack VarHandleOp VarIsInitializedOp While ZerosLike
""".split())

# Checkpoint ops: allowed only in the functions that only the saver's save / restore nodes reach.
SAVER_OPS = frozenset("SaveV2 RestoreV2 MergeV2Checkpoints ShardedFilename StringJoin StaticRegexFullMatch".split())

_FUNCTION_ATTRS = ("f", "then_branch", "else_branch", "body", "cond", "branches")


def _called(nodes, library):
    """Names of the library functions `nodes` call (as an op, or through a function attribute)."""
    called = set()
    for node in nodes:
        if node.op in library:
            called.add(node.op)
        for key in _FUNCTION_ATTRS:
            if key in node.attr:
                value = node.attr[key]
                called.update(f.name for f in value.list.func) if key == "branches" else called.add(value.func.name)
    called.discard("")
    return called


def _reach(roots, calls):
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(calls.get(name, ()))
    return seen


def unsafe_ops(path: str | os.PathLike) -> dict[str, list[str]]:
    """{op: sorted places ("graph" or a function name)} of the ops of the SavedModel at `path` that
    `check_savedmodel` refuses; empty when every op is allowed.

    Example:

    ```python
    import tensorflow as tf
    from keras_gst.export import unsafe_ops

    class Reader(tf.Module):  # a SavedModel that reads any file it is given
        @tf.function(input_signature=[tf.TensorSpec((), tf.string)])
        def read(self, path):
            return tf.io.read_file(path)

    tf.saved_model.save(Reader(), "reader")
    print(list(unsafe_ops("reader")))  # ['ReadFile']
    ```
    """
    from tensorflow.core.protobuf import saved_model_pb2

    pb = os.path.join(os.fspath(path), "saved_model.pb")
    saved = saved_model_pb2.SavedModel()
    try:
        with open(pb, "rb") as f:
            saved.ParseFromString(f.read())
    except Exception as e:  # protobuf's DecodeError and OSError: the file is not a SavedModel
        raise ModelFileError(path, f"{pb} cannot be read as a SavedModel ({type(e).__name__}: {e})") from None
    bad = {}
    for meta in saved.meta_graphs:
        graph = meta.graph_def
        functions = {f.signature.name: f for f in graph.library.function}
        calls = {name: _called(f.node_def, functions) for name, f in functions.items()}
        saver_names = {meta.saver_def.save_tensor_name.split(":")[0], meta.saver_def.restore_op_name.split(":")[0]}
        saver_nodes = [n for n in graph.node if n.name in saver_names]
        other_nodes = [n for n in graph.node if n.name not in saver_names]
        callable_roots = _called(other_nodes, functions) | set(meta.object_graph_def.concrete_functions)
        strict = _reach(callable_roots, calls)
        saver_only = _reach(_called(saver_nodes, functions), calls) - strict
        places = [("graph", other_nodes, ALLOWED_OPS), ("saver", saver_nodes, ALLOWED_OPS | SAVER_OPS)]
        places += [(name, f.node_def, ALLOWED_OPS | SAVER_OPS if name in saver_only else ALLOWED_OPS)
                   for name, f in functions.items()]
        for where, nodes, allowed in places:
            for node in nodes:
                if node.op not in allowed and node.op not in functions:
                    bad.setdefault(node.op, set()).add(where)
    return {op: sorted(where) for op, where in sorted(bad.items())}


def check_savedmodel(path: str | os.PathLike, trust: bool = False) -> None:
    """Raise `ModelFileError` when the SavedModel at `path` holds ops outside `ALLOWED_OPS` (see the
    module docstring); `trust=True` skips the check.

    Example:

    ```python
    import tensorflow as tf
    from keras_gst.export import check_savedmodel

    class Reader(tf.Module):  # a SavedModel that reads any file it is given
        @tf.function(input_signature=[tf.TensorSpec((), tf.string)])
        def read(self, path):
            return tf.io.read_file(path)

    tf.saved_model.save(Reader(), "reader")
    from keras_gst.errors import ModelFileError

    try:
        check_savedmodel("reader")
    except ModelFileError as error:
        print(error.param)  # model
    ```
    """
    if trust:
        return
    bad = unsafe_ops(path)
    if bad:
        listed = "; ".join(f"{op} (in {', '.join(where[:3])}{', ...' if len(where) > 3 else ''})" for op, where in bad.items())
        raise ModelFileError(
            path, f"this SavedModel holds ops that can read or write files, run processes or call Python, or that "
                  f"keras_gst does not know: {listed}. It was not run. If you trust its author, pass "
                  f"--trust-savedmodel (Python: trust_savedmodel=True)")
