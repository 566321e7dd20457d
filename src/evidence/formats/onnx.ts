// ONNX has no magic: a model is a protobuf ModelProto. The heuristic walks the top-level fields in
// the first bytes and accepts them when every field is a ModelProto field with its wire type, the
// IR version is plausible, and a graph or an opset import appears.
import { varint } from '../bytes.ts';

const MODEL_PROTO_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], // ir_version
  [2, 2], // producer_name
  [3, 2], // producer_version
  [4, 2], // domain
  [5, 0], // model_version
  [6, 2], // doc_string
  [7, 2], // graph
  [8, 2], // opset_import
  [14, 2], // metadata_props
  [20, 2], // training_info
  [25, 2], // functions
  [26, 2], // configuration
]);
const MAX_IR_VERSION = 64;

export interface OnnxSniff {
  readonly irVersion: number;
  readonly evidence: string;
}

/** Recognises an ONNX ModelProto from its first bytes; `size` is the whole file's size. */
export function sniffOnnx(head: Uint8Array, size: number): OnnxSniff | undefined {
  let pos = 0;
  let irVersion: number | undefined;
  let structural = false;
  let fields = 0;
  let producer: string | undefined;
  while (pos < head.length && fields < 64) {
    const tag = varint(head, pos);
    if (tag === 'truncated') break;
    if (tag === undefined) return undefined;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (MODEL_PROTO_FIELDS.get(field) !== wire) return undefined;
    pos = tag.next;
    fields++;
    if (wire === 0) {
      const v = varint(head, pos);
      if (v === 'truncated') break;
      if (v === undefined) return undefined;
      if (field === 1) {
        if (v.value < 1 || v.value > MAX_IR_VERSION) return undefined;
        irVersion = v.value;
      }
      pos = v.next;
    } else {
      const len = varint(head, pos);
      if (len === 'truncated') break;
      if (len === undefined || len.next + len.value > size) return undefined;
      if (field === 7 || field === 8) structural = true;
      if (field === 2 && len.next + len.value <= head.length) {
        producer = Buffer.from(head.subarray(len.next, len.next + len.value)).toString('latin1');
      }
      pos = len.next + len.value;
    }
  }
  if (irVersion === undefined || !structural) return undefined;
  return {
    irVersion,
    evidence: `ONNX ModelProto fields (ir_version ${irVersion}${producer ? `, producer ${JSON.stringify(producer.slice(0, 40))}` : ''})`,
  };
}
