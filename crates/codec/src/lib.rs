//! UEFI/Tiano compression codec (placeholder; being written).
