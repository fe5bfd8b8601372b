// A restricted unpickler for torch.save's pickles: it knows only the opcodes torch.save emits and the
// handful of globals a state dict needs (tensor rebuilds, storage and dtype classes, OrderedDict); anything
// else is refused, since pickles can run arbitrary code. ./torch-pickle.ts turns what it returns into tensors.
import type { DType } from '../tensor.ts';

// ---------------------------------------------------------------------------------------------
// Values the unpickler can produce besides plain JS values (null, boolean, number, bigint,
// string, Uint8Array, arrays for tuples and lists, Map for dicts).

/** A global the pickle referred to (only allowed ones are ever created). */
class Global {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string { return `${this.module}.${this.name}`; }
}

/** `torch.FloatStorage` and friends, or `torch.float32` and friends: both just name a dtype. */
class DTypeRef {
  constructor(readonly dtype: DType, readonly qualname: string) {}
}

/** A storage resolved from a persistent id: `elementOffset` is non-zero for legacy storage views. */
export class StorageRef {
  constructor(readonly key: string, readonly dtype: DType, readonly numel: number, readonly elementOffset = 0) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ByteStorage: 'uint8', BoolStorage: 'bool', CharStorage: 'int8',
};

const DTYPE_GLOBALS: Record<string, DType> = {
  float32: 'float32', float: 'float32', float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
  float64: 'float64', double: 'float64', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32',
  uint8: 'uint8', int8: 'int8', bool: 'bool',
};

const ALLOWED_CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
]);

function resolveGlobal(module: string, name: string, file: string): unknown {
  const qualname = `${module}.${name}`;
  if (ALLOWED_CALLABLES.has(qualname)) return new Global(module, name);
  if (module === 'torch') {
    // Own keys only: 'toString' or 'constructor' must not find Object.prototype's.
    const dtype = Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : Object.hasOwn(DTYPE_GLOBALS, name) ? DTYPE_GLOBALS[name] : undefined;
    if (dtype) return new DTypeRef(dtype, qualname);
  }
  throw new Error(`${file}: refusing pickle global '${qualname}'`);
}

// ---------------------------------------------------------------------------------------------
// The unpickler.

export interface Hooks {
  persistentLoad(pid: unknown): unknown;
}

export class Unpickler {
  pos: number;
  private stack: unknown[] = [];
  private metastack: unknown[][] = [];
  private memo = new Map<number, unknown>();
  private view: DataView;

  constructor(private bytes: Uint8Array, private file: string, private hooks: Hooks, start = 0) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(msg: string): never {
    throw new Error(`${this.file}: bad pickle at byte ${this.pos}: ${msg}`);
  }

  private take(n: number): number {
    if (this.pos + n > this.bytes.length) this.fail('unexpected end of data (truncated file?)');
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private u8(): number { return this.bytes[this.take(1)]!; }
  private u16(): number { return this.view.getUint16(this.take(2), true); }
  private u32(): number { return this.view.getUint32(this.take(4), true); }
  private i32(): number { return this.view.getInt32(this.take(4), true); }
  private u64(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is too large`);
    return Number(v);
  }
  private raw(n: number): Uint8Array { const at = this.take(n); return this.bytes.slice(at, at + n); }
  private utf8(n: number): string { return new TextDecoder().decode(this.raw(n)); }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('unexpected end of data in a GLOBAL name (truncated file?)');
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  // Evaluates its argument before touching this.stack, which popMark() replaces.
  private push(v: unknown): void {
    this.stack.push(v);
  }
  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) this.fail('no MARK on the stack');
    this.stack = prev;
    return items;
  }
  private setItems(target: unknown, kv: unknown[]): void {
    if (!(target instanceof Map)) this.fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  }
  private getMemo(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo key ${i} was never stored`);
    return this.memo.get(i);
  }

  /** Runs until STOP and returns the pickled value; `pos` is then just past the STOP opcode. */
  load(): unknown {
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x80: this.u8(); break; // PROTO n
        case 0x95: this.take(8); break; // FRAME (protocol 4): framing only, no meaning here
        case 0x2e: return this.pop(); // STOP '.'
        case 0x28: this.metastack.push(this.stack); this.stack = []; break; // MARK '('
        case 0x7d: this.stack.push(new Map()); break; // EMPTY_DICT '}'
        case 0x5d: this.stack.push([]); break; // EMPTY_LIST ']'
        case 0x29: this.stack.push([]); break; // EMPTY_TUPLE ')'
        case 0x74: this.push(this.popMark()); break; // TUPLE 't'
        case 0x85: this.stack.push([this.pop()]); break; // TUPLE1
        case 0x86: { const b = this.pop(); const a = this.pop(); this.stack.push([a, b]); break; } // TUPLE2
        case 0x87: { const c = this.pop(); const b = this.pop(); const a = this.pop(); this.stack.push([a, b, c]); break; } // TUPLE3
        case 0x6c: this.push(this.popMark()); break; // LIST 'l'
        case 0x64: { const m = new Map(); this.setItems(m, this.popMark()); this.stack.push(m); break; } // DICT 'd'
        case 0x4e: this.stack.push(null); break; // NONE 'N'
        case 0x88: this.stack.push(true); break; // NEWTRUE
        case 0x89: this.stack.push(false); break; // NEWFALSE
        case 0x4b: this.stack.push(this.u8()); break; // BININT1 'K'
        case 0x4d: this.stack.push(this.u16()); break; // BININT2 'M'
        case 0x4a: this.stack.push(this.i32()); break; // BININT 'J'
        case 0x8a: this.stack.push(this.long(this.u8())); break; // LONG1
        case 0x8b: { const n = this.u32(); if (n > 64) this.fail(`LONG4 of ${n} bytes: integers that long never occur in a state dict`); this.stack.push(this.long(n)); break; } // LONG4
        case 0x47: this.stack.push(this.view.getFloat64(this.take(8), false)); break; // BINFLOAT 'G' (big-endian)
        case 0x58: this.stack.push(this.utf8(this.u32())); break; // BINUNICODE 'X'
        case 0x8c: this.stack.push(this.utf8(this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: this.stack.push(this.utf8(this.u64())); break; // BINUNICODE8
        case 0x54: this.stack.push(latin1(this.raw(this.u32()))); break; // BINSTRING 'T' (Python 2 str)
        case 0x55: this.stack.push(latin1(this.raw(this.u8()))); break; // SHORT_BINSTRING 'U'
        case 0x42: this.stack.push(this.raw(this.u32())); break; // BINBYTES 'B'
        case 0x43: this.stack.push(this.raw(this.u8())); break; // SHORT_BINBYTES 'C'
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT 'q'
        case 0x72: this.memo.set(this.u32(), this.top()); break; // LONG_BINPUT 'r'
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: this.stack.push(this.getMemo(this.u8())); break; // BINGET 'h'
        case 0x6a: this.stack.push(this.getMemo(this.u32())); break; // LONG_BINGET 'j'
        case 0x63: { const mod = this.line(); const name = this.line(); this.stack.push(resolveGlobal(mod, name, this.file)); break; } // GLOBAL 'c'
        case 0x93: { // STACK_GLOBAL
          const name = this.pop(); const mod = this.pop();
          if (typeof mod !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.stack.push(resolveGlobal(mod, name, this.file));
          break;
        }
        case 0x51: this.stack.push(this.hooks.persistentLoad(this.pop())); break; // BINPERSID 'Q'
        case 0x52: { const args = this.pop(); const fn = this.pop(); this.stack.push(this.call(fn, args)); break; } // REDUCE 'R'
        case 0x62: { const state = this.pop(); this.build(this.top(), state); break; } // BUILD 'b'
        case 0x73: { const v = this.pop(); const k = this.pop(); this.setItems(this.top(), [k, v]); break; } // SETITEM 's'
        case 0x75: { const kv = this.popMark(); this.setItems(this.top(), kv); break; } // SETITEMS 'u'
        case 0x61: { const v = this.pop(); this.appendTo(this.top(), [v]); break; } // APPEND 'a'
        case 0x65: { const vs = this.popMark(); this.appendTo(this.top(), vs); break; } // APPENDS 'e'
        case 0x30: this.pop(); break; // POP '0'
        case 0x31: this.popMark(); break; // POP_MARK '1'
        case 0x32: this.stack.push(this.top()); break; // DUP '2'
        default:
          this.pos--;
          this.fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  /** Little-endian two's complement integer of n bytes; a number when it fits exactly. */
  private long(n: number): number | bigint {
    const b = this.raw(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private appendTo(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target)) this.fail('APPEND(S) on something that is not a list');
    for (const item of items) target.push(item); // not push(...items): a long list would overflow the call stack
  }

  private call(fn: unknown, args: unknown): unknown {
    if (!(fn instanceof Global)) {
      this.fail(`REDUCE on ${fn instanceof DTypeRef ? `'${fn.qualname}'` : 'a non-callable value'}`);
    }
    if (!Array.isArray(args)) this.fail(`'${fn.qualname}' called without an argument tuple`);
    switch (fn.qualname) {
      case 'collections.OrderedDict': {
        const m = new Map<unknown, unknown>();
        for (const pair of (args[0] as unknown[] | undefined) ?? []) {
          if (Array.isArray(pair) && pair.length === 2) m.set(pair[0], pair[1]);
        }
        return m;
      }
      case 'torch._utils._rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof StorageRef)) this.fail('_rebuild_tensor_v2 without a storage');
        if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length || !isInt(offset) || offset < 0) {
          this.fail(`_rebuild_tensor_v2 with bad size/stride/offset ${describe([size, stride, offset])} (sizes, strides and the offset must be non-negative integers)`);
        }
        return new TensorRef(storage, offset, size, stride);
      }
      case 'torch._utils._rebuild_parameter': {
        // (data, requires_grad, backward_hooks): a Parameter is just its tensor here.
        if (!(args[0] instanceof TensorRef)) this.fail('_rebuild_parameter without a tensor');
        return args[0];
      }
    }
    this.fail(`'${fn.qualname}' cannot be called`);
  }

  // BUILD sets object state: an OrderedDict's `_metadata` attribute (module versions) is the
  // one torch state dicts carry; it is irrelevant to the weights, so it is dropped.
  private build(target: unknown, _state: unknown): void {
    if (!(target instanceof Map) && !(target instanceof TensorRef)) this.fail('BUILD on an unsupported object');
  }
}

export function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}
function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => isInt(x) && x >= 0);
}

// ---------------------------------------------------------------------------------------------
// Persistent ids: ('storage', storage_type, key, location, numel[, view_metadata]).

export function storageFromPid(pid: unknown, file: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') {
    throw new Error(`${file}: unsupported persistent id ${describe(pid)}`);
  }
  const [, type, key, , count, view] = pid;
  if (!(type instanceof DTypeRef)) throw new Error(`${file}: storage ${describe(key)} has no known storage type`);
  if (typeof key !== 'string' || !isInt(count) || count < 0) throw new Error(`${file}: malformed storage persistent id ${describe(pid)}`);
  if (view != null) {
    // Legacy format only: a view (view_key, element_offset, view_size) into a root storage.
    if (!Array.isArray(view) || !isInt(view[1]) || !isInt(view[2]) || view[1] < 0 || view[2] < 0) {
      throw new Error(`${file}: malformed storage view for storage '${key}'`);
    }
    return new StorageRef(key, type.dtype, count, view[1]);
  }
  return new StorageRef(key, type.dtype, count);
}

/** A short rendering of an unpickled value for messages: bounded in depth and length, never throws. */
function describe(v: unknown, depth = 0): string {
  if (Array.isArray(v)) {
    if (depth >= 3) return '(…)';
    const items = v.slice(0, 8).map((x) => describe(x, depth + 1));
    return `(${items.join(', ')}${v.length > 8 ? `, … ${v.length - 8} more` : ''})`;
  }
  if (v instanceof DTypeRef || v instanceof Global) return v.qualname;
  if (typeof v === 'string') return `'${v.length > 64 ? `${v.slice(0, 64)}…` : v}'`;
  if (typeof v === 'object' && v !== null) return v instanceof Map ? 'a dict' : v instanceof Uint8Array ? 'bytes' : 'an object';
  return String(v);
}

