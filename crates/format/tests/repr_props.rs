//! Property tests: for any bytes a view accepts, parse → emit reproduces them, and
//! for any Repr, emit → parse gives the same Repr back.

use optrom_format::{
    EfiHeader, EfiHeaderRepr, IpxeHeader, IpxeHeaderRepr, LegacyHeader, LegacyHeaderRepr, Pcir, PcirRepr, PnpHeader,
    PnpHeaderRepr, UndiRomId, UndiRomIdRepr,
};
use proptest::prelude::*;

fn with_prefix(prefix: &[u8], mut rest: Vec<u8>) -> Vec<u8> {
    rest[..prefix.len()].copy_from_slice(prefix);
    rest
}

proptest! {
    #[test]
    fn legacy_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0x1C)) {
        let b = with_prefix(&[0x55, 0xAA], bytes);
        let repr = LegacyHeaderRepr::parse(&LegacyHeader::new_checked(&b[..]).unwrap()).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut LegacyHeader::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &b[..]);
        prop_assert_eq!(LegacyHeaderRepr::parse(&LegacyHeader::new_checked(&out[..]).unwrap()).unwrap(), repr);
    }

    #[test]
    fn efi_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0x1A)) {
        let b = with_prefix(&[0x55, 0xAA, 0, 0, 0xF1, 0x0E, 0, 0], bytes);
        let mut b = b;
        b[2] = 7;
        let repr = EfiHeaderRepr::parse(&EfiHeader::new_checked(&b[..]).unwrap()).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut EfiHeader::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &b[..]);
    }

    #[test]
    fn pcir_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0x1C), long in any::<bool>()) {
        let mut b = with_prefix(b"PCIR", bytes);
        b[0x0A] = if long { 0x1C } else { 0x18 };
        b[0x0B] = 0;
        let view = Pcir::new_checked(&b[..]).unwrap();
        let repr = PcirRepr::parse(&view).unwrap();
        let len = repr.buffer_len();
        prop_assert_eq!(len, if long { 0x1C } else { 0x18 });
        let mut out = vec![0u8; len];
        repr.emit(&mut Pcir::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &b[..len]);
        prop_assert_eq!(PcirRepr::parse(&Pcir::new_checked(&out[..]).unwrap()).unwrap(), repr);
    }

    #[test]
    fn pnp_undi_ipxe_round_trip(a in proptest::collection::vec(any::<u8>(), 0x20), u in proptest::collection::vec(any::<u8>(), 0x16), x in proptest::collection::vec(any::<u8>(), 0x0C)) {
        let a = with_prefix(b"$PnP", a);
        let repr = PnpHeaderRepr::parse(&PnpHeader::new_checked(&a[..]).unwrap()).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut PnpHeader::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &a[..]);

        let u = with_prefix(b"UNDI", u);
        let repr = UndiRomIdRepr::parse(&UndiRomId::new_checked(&u[..]).unwrap()).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UndiRomId::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &u[..]);

        let x = with_prefix(b"iPXE", x);
        let repr = IpxeHeaderRepr::parse(&IpxeHeader::new_checked(&x[..]).unwrap()).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut IpxeHeader::new_unchecked(&mut out[..]));
        prop_assert_eq!(&out[..], &x[..]);
    }

    #[test]
    fn chain_walk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let walked = optrom_format::chain::walk(&bytes);
        for image in &walked.images {
            prop_assert!(image.end() <= bytes.len());
        }
    }
}
