//! Walking the chain of images in a ROM file.
//!
//! An image starts with `55 AA`; its PCIR (found through the pointer at 0x18) gives
//! its length in 512-byte blocks, the next image starts right after it, and the
//! chain ends at the image whose PCIR indicator has bit 7 set. Firmware tests the
//! bit (`& 0x80`), not equality, and so does this walker. Bytes after the last image
//! (padding) belong to no image.
//!
//! A file whose first image has a PCIR pointer of 0 is an ISA-style ROM (SeaBIOS's
//! `vgabios-isavga.bin`, `vgabios-ramfb.bin`): one image of `Size512 × 512` bytes
//! that firmware loads from fw_cfg or a fixed address, never from a PCI ROM BAR.
//! [`walk`] reports it as [`Walk::isa`] next to the [`ErrorKind::NoPcir`] error, so
//! tools that need a PCI chain refuse it and inspectors can still describe it.

use crate::error::{Error, ErrorKind, Result};
use crate::field::try_u16;
use crate::pcir::{self, Pcir, PcirRepr};
use crate::{BLOCK, ROM_SIGNATURE, legacy};

/// Offset of the PCIR pointer, common to the legacy and EFI headers.
pub const PCIR_POINTER: usize = 0x18;
/// The smallest header that holds a PCIR pointer.
pub const MIN_HEADER: usize = 0x1A;

/// One image of the chain.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    /// Position in the chain, from 0.
    pub index: usize,
    /// File offset of the image.
    pub offset: usize,
    /// The image's bytes, `PCIR.ImageLength × 512` of them.
    pub bytes: &'a [u8],
    /// Offset of the PCIR within the image.
    pub pcir_offset: usize,
    /// The PCIR's fields, decoded once by the walker.
    pub pcir_repr: PcirRepr,
}

impl<'a> ImageRef<'a> {
    /// A view of the image's PCIR.
    pub fn pcir(&self) -> Pcir<&'a [u8]> {
        // The walker checked the PCIR fits inside the image.
        Pcir::new_unchecked(&self.bytes[self.pcir_offset..])
    }
    /// The image's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Never true: the walker rejects zero-length images.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// File offset just past the image.
    pub fn end(&self) -> usize {
        self.offset + self.bytes.len()
    }
}

/// Iterator over the images of a ROM file. It yields `Err` once and then stops
/// when the chain is malformed.
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    data: &'a [u8],
    pos: usize,
    index: usize,
    done: bool,
}

impl<'a> Chain<'a> {
    /// Start walking at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Chain { data, pos: 0, index: 0, done: false }
    }

    fn image_at(&self, at: usize) -> Result<ImageRef<'a>> {
        let data = self.data;
        let rest = &data[at..];
        if rest.len() < MIN_HEADER {
            return Err(Error::new(
                at,
                "image header",
                ErrorKind::Truncated { needed: MIN_HEADER, available: rest.len() },
            ));
        }
        let signature = try_u16(rest, 0).unwrap_or(0);
        if signature != ROM_SIGNATURE {
            return Err(Error::new(
                at,
                "signature",
                ErrorKind::BadSignature { expected: "55 AA", found: signature.into() },
            ));
        }
        let pcir_ptr = usize::from(try_u16(rest, PCIR_POINTER).unwrap_or(0));
        if pcir_ptr == 0 && at == 0 {
            return Err(Error::new(at + PCIR_POINTER, "PCIR pointer", ErrorKind::NoPcir));
        }
        if pcir_ptr < MIN_HEADER {
            return Err(Error::new(
                at + PCIR_POINTER,
                "PCIR pointer",
                ErrorKind::InsideHeader { value: pcir_ptr, header_end: MIN_HEADER },
            ));
        }
        if pcir_ptr + pcir::LEN_V22 > rest.len() {
            return Err(Error::new(
                at + PCIR_POINTER,
                "PCIR pointer",
                ErrorKind::OutOfBounds { value: pcir_ptr, limit: rest.len().saturating_sub(pcir::LEN_V22) },
            ));
        }
        let view = Pcir::new_checked(&rest[pcir_ptr..]).map_err(|e| e.rebase(at + pcir_ptr))?;
        let repr = PcirRepr::parse(&view).map_err(|e| e.rebase(at + pcir_ptr))?;
        if repr.image_length == 0 {
            return Err(Error::new(at + pcir_ptr + pcir::field::IMAGE_LENGTH, "PCIR.ImageLength", ErrorKind::Zero));
        }
        let len = usize::from(repr.image_length) * BLOCK;
        if len > rest.len() {
            return Err(Error::new(
                at + pcir_ptr + pcir::field::IMAGE_LENGTH,
                "PCIR.ImageLength",
                ErrorKind::PastEnd { end: at + len, size: data.len() },
            ));
        }
        if pcir_ptr + view.layout_len() > len {
            return Err(Error::new(
                at + PCIR_POINTER,
                "PCIR pointer",
                ErrorKind::OutOfBounds { value: pcir_ptr, limit: len - view.layout_len() },
            ));
        }
        Ok(ImageRef { index: self.index, offset: at, bytes: &rest[..len], pcir_offset: pcir_ptr, pcir_repr: repr })
    }
}

impl<'a> Iterator for Chain<'a> {
    type Item = Result<ImageRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let image = match self.image_at(self.pos) {
            Ok(image) => image,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.index += 1;
        self.pos = image.end();
        self.done = image.pcir().is_last();
        Some(Ok(image))
    }
}

/// The result of walking a whole file.
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    /// The images found, in chain order.
    pub images: Vec<ImageRef<'a>>,
    /// Why the walk stopped early, when it did.
    pub error: Option<Error>,
    /// File offset just past the last image walked (past the ISA image, for
    /// an ISA-style ROM).
    pub end: usize,
    /// The image of an ISA-style ROM (first PCIR pointer 0): its `Size512 × 512`
    /// bytes, cut short at the end of the file; `None` when they do not hold
    /// the legacy header. `images` is then empty and `error` is
    /// [`ErrorKind::NoPcir`].
    pub isa: Option<&'a [u8]>,
}

/// Walk every image of `data`.
///
/// A chain that reaches the end of the file without a last-image bit yields the
/// images and a [`ErrorKind::NoLastImage`] error naming the indicator of the final
/// image.
pub fn walk(data: &[u8]) -> Walk<'_> {
    let mut images: Vec<ImageRef<'_>> = Vec::new();
    let mut error = None;
    let mut chain = Chain::new(data);
    loop {
        if let Some(last) = images.last()
            && !last.pcir().is_last()
            && last.end() >= data.len()
        {
            error = Some(Error::new(
                last.offset + last.pcir_offset + pcir::field::INDICATOR,
                "PCIR.Indicator",
                ErrorKind::NoLastImage,
            ));
            break;
        }
        match chain.next() {
            Some(Ok(image)) => images.push(image),
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
            None => break,
        }
    }
    let isa = match &error {
        Some(Error { kind: ErrorKind::NoPcir, .. }) if images.is_empty() => {
            let declared = usize::from(data[legacy::field::SIZE512]) * BLOCK;
            let bytes = &data[..declared.min(data.len())];
            (bytes.len() >= legacy::HEADER_LEN).then_some(bytes)
        }
        _ => None,
    };
    let end = isa.map_or_else(|| images.last().map_or(0, ImageRef::end), <[u8]>::len);
    Walk { images, error, end, isa }
}
