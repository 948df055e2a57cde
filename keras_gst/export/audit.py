"""Op audit of a .tflite file, read from its flatbuffer (not from an interpreter, whose delegates
rewrite the graph).

`audit_tflite(path)` lists every operator with the types of its inputs; `check_int8(path)` fails if any
compute op (CONV_2D, CONV_3D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ...) reads a float activation or
weight, or if the model contains Flex (SELECT_TF_OPS) or custom ops.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Iterable

from ai_edge_litert import schema_py_generated as schema

from keras_gst.export.errors import OpAuditError  # noqa: F401 (raised here, importable from here)

# Ops that carry the network's multiply-accumulates: these must read int8 in an int8 model.
COMPUTE_OPS = ("CONV_2D", "CONV_3D", "CONV_3D_TRANSPOSE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
               "BATCH_MATMUL", "TRANSPOSE_CONV")

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


@dataclasses.dataclass(frozen=True)
class OpInfo:
    index: int
    name: str  # builtin name (e.g. "CONV_2D"), or the custom code ("FlexConv3D")
    custom: bool
    input_types: tuple  # e.g. ("int8", "int8", "int32"); "-" for an omitted optional input
    output_types: tuple


def _read_model(path_or_bytes):
    buf = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else open(path_or_bytes, "rb").read()
    return schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)


def audit_tflite(path_or_bytes: str | os.PathLike | bytes) -> list[OpInfo]:
    """Every operator of every subgraph, in order, as `OpInfo`.

    Example:

    ```python
    import tensorflow as tf
    from keras_gst.export import audit_tflite

    @tf.function(input_signature=[tf.TensorSpec((1, 8, 8, 3), tf.float32)])
    def conv(x):
        return tf.nn.conv2d(x, tf.ones((3, 3, 3, 4)), 1, "SAME")

    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([conv.get_concrete_function()], conv).convert()
    ops = audit_tflite(flatbuffer)  # or the path of a .tflite file
    print([(op.name, op.input_types[0]) for op in ops])  # [('CONV_2D', 'float32')]
    ```
    """
    model = _read_model(path_or_bytes)
    ops = []
    for subgraph in model.subgraphs:
        tensors = subgraph.tensors
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # schema v3a split the field
            custom = builtin == schema.BuiltinOperator.CUSTOM
            name = code.customCode.decode() if custom and code.customCode else _OP_NAMES.get(builtin, str(builtin))

            def types(indices):
                return tuple("-" if i < 0 else _TYPE_NAMES[tensors[i].type] for i in (indices if indices is not None else []))

            ops.append(OpInfo(len(ops), name, custom, types(op.inputs), types(op.outputs)))
    return ops


def op_counts(ops: Iterable[OpInfo]) -> collections.Counter:
    """Counter of (op name, first input type) -> occurrences.

    Example:

    ```python
    from keras_gst.export import op_counts
    from keras_gst.export.audit import OpInfo

    ops = [OpInfo(0, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(1, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(2, "FULLY_CONNECTED", False, ("float32", "float32", "float32"), ("float32",))]
    print(op_counts(ops)[("CONV_2D", "int8")])  # 2
    ```
    """
    return collections.Counter((op.name, op.input_types[0] if op.input_types else "") for op in ops)


def float_compute_ops(ops: Iterable[OpInfo]) -> list[OpInfo]:
    """Compute ops (see COMPUTE_OPS) whose activation or weight input is float.

    Example:

    ```python
    from keras_gst.export import float_compute_ops
    from keras_gst.export.audit import OpInfo

    ops = [OpInfo(0, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(1, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(2, "FULLY_CONNECTED", False, ("float32", "float32", "float32"), ("float32",))]
    print([op.index for op in float_compute_ops(ops)])  # [2]
    ```
    """
    bad = []
    for op in ops:
        if op.name in COMPUTE_OPS and any(t.startswith("float") for t in op.input_types[:2]):
            bad.append(op)
    return bad


def flex_or_custom_ops(ops):
    return [op for op in ops if op.custom or op.name.startswith("Flex")]


def check_int8(path_or_bytes: str | os.PathLike | bytes) -> list[OpInfo]:
    """Raise `OpAuditError` unless every compute op reads int8 and no Flex/custom op is present.

    Returns the audit (list of `OpInfo`) when the model passes.

    Example:

    ```python
    import tensorflow as tf
    from keras_gst.export import OpAuditError, check_int8

    @tf.function(input_signature=[tf.TensorSpec((1, 8, 8, 3), tf.float32)])
    def conv(x):
        return tf.nn.conv2d(x, tf.ones((3, 3, 3, 4)), 1, "SAME")

    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([conv.get_concrete_function()], conv).convert()
    try:
        check_int8(flatbuffer)  # a float model
    except OpAuditError as error:
        print([op.name for op in error.offending])  # ['CONV_2D']
    ```
    """
    ops = audit_tflite(path_or_bytes)
    problems = []
    flex = flex_or_custom_ops(ops)
    if flex:
        problems.append(f"{len(flex)} Flex/custom ops: {sorted({op.name for op in flex})}")
    bad = float_compute_ops(ops)
    if bad:
        kinds = collections.Counter(op.name for op in bad)
        problems.append(f"{len(bad)} compute ops read float inputs: {dict(kinds)}")
    if not any(op.name in COMPUTE_OPS for op in ops):
        problems.append("no compute op found")
    if problems:
        raise OpAuditError("int8 op audit failed: " + "; ".join(problems), ops, flex + bad)
    return ops


def format_audit(ops: Iterable[OpInfo]) -> str:
    """One line per (op, input type) with counts, most frequent first.

    Example:

    ```python
    from keras_gst.export import format_audit
    from keras_gst.export.audit import OpInfo

    ops = [OpInfo(0, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(1, "CONV_2D", False, ("int8", "int8", "int32"), ("int8",)),
           OpInfo(2, "FULLY_CONNECTED", False, ("float32", "float32", "float32"), ("float32",))]
    print(format_audit(ops))  # 2 x CONV_2D (int8)
    ```
    """
    return "\n".join(f"  {count:4d} x {name} ({dtype})" for (name, dtype), count in op_counts(ops).most_common())
