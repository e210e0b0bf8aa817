/**
 * One field of an event record, as described by a tracefs `format` file. Mirrors libtraceevent's
 * tep_format_field (type, name, offset, size, signed, array length, element size, flags).
 */
export type FieldKind =
  /** integer of 1, 2, 4 or 8 bytes (incl. pid_t, bool, enums) */
  | 'int'
  /** a pointer: read as an unsigned integer of the field's size */
  | 'pointer'
  /** char[N]: a NUL-terminated string within N bytes */
  | 'string'
  /** T[N] for any non-char T: N elements of elementSize bytes */
  | 'array'
  /** __data_loc char[]: u32 locator (low 16 bits: offset from record start, high 16: length) */
  | 'dyn-string'
  /** __data_loc T[]: dynamic array of elementSize-byte elements */
  | 'dyn-array'
  /** __rel_loc char[]: like dyn-string but the offset counts from the end of the locator field */
  | 'rel-string'
  /** __rel_loc T[] */
  | 'rel-array';

export interface Field {
  /** the C type as declared, without the name (e.g. "char[16]", "__data_loc char[]", "const char *") */
  readonly type: string;
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  readonly kind: FieldKind;
  /** bytes per element for array kinds, = size for scalars */
  readonly elementSize: number;
  /** declared element count for fixed arrays (0 when unknown or dynamic) */
  readonly arrayLength: number;
  /** true for the common_* header fields every event starts with */
  readonly common: boolean;
}
