//! The network half of optrom: the services a netboot client talks to. It is being
//! built now; today it holds no services yet.

#![forbid(unsafe_code)]
