//! optrom library.
