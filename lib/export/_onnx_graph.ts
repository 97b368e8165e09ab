/**
 * A small builder of ONNX graphs over the `onnx-proto` messages (the official `onnx.proto`
 * compiled with protobuf.js): float32 initializers, nodes with typed attributes, graph inputs and
 * outputs with fixed or symbolic dimensions, and the serialised `ModelProto`. Internal to
 * lib/export.
 *
 * @module
 */

import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
// ONNX raw_data is little-endian; a typed-array copy is that on a little-endian host.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An attribute value: a float, an int, a string, or a list of ints or floats. */
export type _AttrValue =
  | { float: number }
  | { int: number }
  | { string: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] };

/** A dimension of a graph input or output: a fixed size or a symbolic name. */
export type _Dim = number | string;

/** Model-level fields of {@linkcode _OnnxGraph.toModel}. */
export interface _ModelFields {
  /** ONNX IR version. */
  irVersion: number;
  /** Version of the default ("ai.onnx") operator set. */
  opset: number;
  /** Graph name. */
  graphName: string;
  /** Graph doc string. */
  docString: string;
  /** Producer name. */
  producerName: string;
  /** Producer version. */
  producerVersion: string;
  /** Key/value metadata (`metadata_props`). */
  metadata: Readonly<Record<string, string>>;
}

/** Accumulates the nodes, initializers, inputs and outputs of one ONNX graph. */
export class _OnnxGraph {
  #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  #initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  #inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  #outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  #names = new Set<string>();
  #counts = new Map<string, number>();

  /**
   * Add a float32 initializer (stored as little-endian `raw_data`).
   *
   * @param name Unique value name.
   * @param dims Shape.
   * @param data Values (length = product of dims).
   * @returns The name.
   */
  initializer(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new TypeError(
        `Cannot add ONNX initializer ${name}: ${data.length} values for shape ${
          JSON.stringify(dims)
        }`,
      );
    }
    this.#claim(name);
    const raw = new Uint8Array(4 * n);
    if (LITTLE_ENDIAN) new Float32Array(raw.buffer).set(data);
    else {
      const view = new DataView(raw.buffer);
      for (let i = 0; i < n; i++) view.setFloat32(4 * i, data[i], true);
    }
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: raw,
    }));
    return name;
  }

  /**
   * Add a node with one output.
   *
   * @param opType Operator (default domain).
   * @param inputs Input value names (`""` for an omitted optional input).
   * @param attributes Attributes by name.
   * @param output Output name; a fresh `<opType>_<k>` when omitted.
   * @returns The output name.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, _AttrValue>> = {},
    output?: string,
  ): string {
    const k = this.#counts.get(opType) ?? 0;
    this.#counts.set(opType, k + 1);
    const out = output ?? `${opType}_${k}`;
    this.#claim(out);
    this.#nodes.push(onnx.NodeProto.create({
      name: `${opType}_${k}`,
      opType,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attributes).map(([name, v]) => _attribute(name, v)),
    }));
    return out;
  }

  /**
   * Declare a float32 graph input.
   *
   * @param name Value name.
   * @param dims Dimensions (numbers fixed, strings symbolic).
   * @returns The name.
   */
  input(name: string, dims: readonly _Dim[]): string {
    this.#claim(name);
    this.#inputs.push(_valueInfo(name, dims));
    return name;
  }

  /**
   * Declare a float32 graph output (a value some node produces).
   *
   * @param name Value name.
   * @param dims Dimensions (numbers fixed, strings symbolic).
   * @returns The name.
   */
  output(name: string, dims: readonly _Dim[]): string {
    if (!this.#names.has(name)) {
      throw new TypeError(`Cannot build ONNX graph: output ${name} is produced by no node`);
    }
    this.#outputs.push(_valueInfo(name, dims));
    return name;
  }

  /**
   * Serialise the graph as a `ModelProto`.
   *
   * @param fields Model-level fields.
   * @returns The protobuf bytes.
   */
  toModel(fields: _ModelFields): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: fields.irVersion,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: fields.opset })],
      producerName: fields.producerName,
      producerVersion: fields.producerVersion,
      docString: fields.docString,
      metadataProps: Object.entries(fields.metadata).map(([key, value]) =>
        onnx.StringStringEntryProto.create({ key, value })
      ),
      graph: onnx.GraphProto.create({
        name: fields.graphName,
        docString: fields.docString,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      }),
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    // protobuf.js may hand back a Node Buffer; return a plain Uint8Array.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
  }

  #claim(name: string): void {
    if (!name) throw new TypeError("Cannot build ONNX graph: empty value name");
    if (this.#names.has(name)) {
      throw new TypeError(`Cannot build ONNX graph: value ${name} is defined twice`);
    }
    this.#names.add(name);
  }
}

function _attribute(name: string, v: _AttrValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if ("float" in v) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
  if ("int" in v) return onnx.AttributeProto.create({ name, type: T.INT, i: v.int });
  if ("string" in v) {
    return onnx.AttributeProto.create({
      name,
      type: T.STRING,
      s: new TextEncoder().encode(v.string),
    });
  }
  if ("ints" in v) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...v.ints] });
  return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...v.floats] });
}

function _valueInfo(
  name: string,
  dims: readonly _Dim[],
): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: {
          dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  });
}
