//! Serialization helpers shared by the JSON reports: IDs as 4-digit lowercase hex
//! strings, enumerated values as `{ "raw": n, "name": "…" }`.

use serde::Serializer;
use serde::ser::SerializeStruct;

use optrom_format::{CodeType, Compression, Machine, Subsystem};

/// A 16-bit ID as `"8086"`.
pub fn hex16(id: u16) -> String {
    format!("{id:04x}")
}

pub(crate) fn ser_hex16<S: Serializer>(v: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex16(*v))
}

pub(crate) fn ser_hex16_list<S: Serializer>(v: &Option<Vec<u16>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(ids) => s.collect_seq(ids.iter().map(|id| hex16(*id))),
    }
}

pub(crate) fn ser_class<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:06x}"))
}

fn ser_named<S: Serializer>(raw: u64, name: Option<&str>, s: S) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct("Named", 2)?;
    st.serialize_field("raw", &raw)?;
    st.serialize_field("name", &name)?;
    st.end()
}

pub(crate) fn ser_machine<S: Serializer>(v: &Machine, s: S) -> Result<S::Ok, S::Error> {
    ser_named(v.raw().into(), v.name(), s)
}
pub(crate) fn ser_subsystem<S: Serializer>(v: &Subsystem, s: S) -> Result<S::Ok, S::Error> {
    ser_named(v.raw().into(), v.name(), s)
}
pub(crate) fn ser_compression<S: Serializer>(v: &Compression, s: S) -> Result<S::Ok, S::Error> {
    ser_named(v.raw().into(), v.name(), s)
}
pub(crate) fn ser_code_type<S: Serializer>(v: &CodeType, s: S) -> Result<S::Ok, S::Error> {
    ser_named(v.raw().into(), v.name(), s)
}
