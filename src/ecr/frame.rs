//! Frames of the native ECR protocol: `SOH kind seq len body crc EOT`, all printable ASCII
//! except the two markers.
//!
//! The start marker SOH (0x01) can never occur inside a frame: headers and the CRC are
//! upper-case hex, and bodies are JSON, which has no raw control characters. So whatever line
//! noise did to the previous frame, the next SOH is always the start of a frame, and a decoder
//! resynchronises by discarding everything up to it. The length field bounds how far a broken
//! frame can run on, and CRC-32 catches what the markers cannot. See docs/ecr-protocol.md.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;
use tokio_util::codec::{Decoder, Encoder};

/// Start of frame.
pub const SOH: u8 = 0x01;
/// End of frame.
pub const EOT: u8 = 0x04;
/// Largest body a frame may carry. Every message of the protocol is far smaller; the limit
/// bounds the memory a receiver needs however much garbage arrives.
pub const MAX_BODY: usize = 4096;
/// Kind (1) + sequence number (2 hex) + body length (4 hex).
const HEADER_LEN: usize = 7;
/// CRC-32 as 8 hex digits.
const CRC_LEN: usize = 8;
/// Largest frame on the wire, markers included.
pub const MAX_FRAME: usize = 1 + HEADER_LEN + MAX_BODY + CRC_LEN + 1;

/// What a frame is for at the link layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Carries one message; must be acknowledged.
    Data,
    /// Acknowledges the data frame with the same sequence number.
    Ack,
    /// "I received a damaged frame": the peer retransmits its unacknowledged frame at once.
    Nak,
}

impl FrameKind {
    pub fn letter(self) -> u8 {
        match self {
            FrameKind::Data => b'D',
            FrameKind::Ack => b'A',
            FrameKind::Nak => b'N',
        }
    }

    fn from_letter(letter: u8) -> Option<FrameKind> {
        match letter {
            b'D' => Some(FrameKind::Data),
            b'A' => Some(FrameKind::Ack),
            b'N' => Some(FrameKind::Nak),
            _ => None,
        }
    }
}

/// One intact frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    kind: FrameKind,
    seq: u8,
    body: Bytes,
}

/// Why a body cannot be put into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the message is {0} bytes long; a frame carries at most {MAX_BODY}")]
    TooLong(usize),
    #[error("the message contains a frame marker byte (SOH or EOT)")]
    MarkerInBody,
}

impl Frame {
    /// A data frame. Bodies must not contain the marker bytes; JSON never does.
    pub fn data(seq: u8, body: impl Into<Bytes>) -> Result<Frame, FrameError> {
        let body = body.into();
        if body.len() > MAX_BODY {
            return Err(FrameError::TooLong(body.len()));
        }
        if body.iter().any(|&b| b == SOH || b == EOT) {
            return Err(FrameError::MarkerInBody);
        }
        Ok(Frame {
            kind: FrameKind::Data,
            seq,
            body,
        })
    }

    pub fn ack(seq: u8) -> Frame {
        Frame {
            kind: FrameKind::Ack,
            seq,
            body: Bytes::new(),
        }
    }

    pub fn nak(seq: u8) -> Frame {
        Frame {
            kind: FrameKind::Nak,
            seq,
            body: Bytes::new(),
        }
    }

    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    pub fn seq(&self) -> u8 {
        self.seq
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The CRC-32 the frame carries: over kind, sequence, length and body as they appear on
    /// the wire (everything between SOH and the CRC field).
    pub fn crc(&self) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&self.header());
        hasher.update(&self.body);
        hasher.finalize()
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut header = [0u8; HEADER_LEN];
        header[0] = self.kind.letter();
        put_hex(&mut header[1..3], self.seq as u32);
        put_hex(&mut header[3..7], self.body.len() as u32);
        header
    }

    /// Appends the frame's wire bytes to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let mut crc = [0u8; CRC_LEN];
        put_hex(&mut crc, self.crc());
        dst.reserve(self.wire_len());
        dst.put_u8(SOH);
        dst.put_slice(&self.header());
        dst.put_slice(&self.body);
        dst.put_slice(&crc);
        dst.put_u8(EOT);
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut buf = BytesMut::with_capacity(self.wire_len());
        self.encode(&mut buf);
        buf.to_vec()
    }

    pub fn wire_len(&self) -> usize {
        1 + HEADER_LEN + self.body.len() + CRC_LEN + 1
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{:02X} {:?}",
            self.kind.letter() as char,
            self.seq,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Why a run of bytes that began with SOH was not an intact frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Another SOH arrived before the frame was complete (the rest was lost).
    Interrupted,
    /// Unknown kind letter, non-hex digits, an acknowledgement with a body, or a length above
    /// [`MAX_BODY`].
    BadHeader,
    /// The byte after the CRC was not EOT.
    MissingEnd,
    /// EOT inside the body.
    MarkerInBody,
    /// The CRC does not match.
    BadCrc,
}

/// One step of decoding: an intact frame, or the news that a damaged one was discarded (the
/// link layer answers that with NAK so the sender does not wait for its timeout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    Corrupt(Corruption),
}

/// tokio-util codec for frames. Decoding never fails and never buffers more than
/// [`MAX_FRAME`] bytes: bytes before a SOH are dropped, damaged frames are reported and
/// skipped.
#[derive(Debug, Default)]
pub struct FrameCodec {
    /// Bytes after the leading SOH of the buffer already known to contain no SOH, so a frame
    /// that trickles in byte by byte is not rescanned from its start each time.
    scanned: usize,
}

impl FrameCodec {
    pub fn new() -> FrameCodec {
        FrameCodec::default()
    }

    fn skip(&mut self, src: &mut BytesMut, n: usize) {
        src.advance(n);
        self.scanned = 0;
    }

    /// The decoding step on a buffer; `None` when more bytes are needed.
    pub fn decode_step(&mut self, src: &mut BytesMut) -> Option<Decoded> {
        // Hunt for the start marker.
        match src.iter().position(|&b| b == SOH) {
            Some(0) => {}
            Some(p) => self.skip(src, p),
            None => {
                src.clear();
                self.scanned = 0;
                return None;
            }
        }
        // A SOH inside the candidate frame means the frame was cut short: restart there.
        let needed = match parse_header(&src[1..]) {
            HeaderParse::Incomplete => None,
            HeaderParse::Invalid => {
                // Report and resume the hunt after this SOH, unless the damage was a second SOH.
                let reason = match src[1..].iter().take(HEADER_LEN).position(|&b| b == SOH) {
                    Some(_) => Corruption::Interrupted,
                    None => Corruption::BadHeader,
                };
                self.skip(src, 1);
                return Some(Decoded::Corrupt(reason));
            }
            HeaderParse::Valid { body_len } => Some(HEADER_LEN + body_len + CRC_LEN + 1),
        };
        let limit = needed.unwrap_or(HEADER_LEN).min(src.len() - 1);
        let from = self.scanned.min(limit);
        if let Some(p) = src[1 + from..1 + limit].iter().position(|&b| b == SOH) {
            self.skip(src, 1 + from + p);
            return Some(Decoded::Corrupt(Corruption::Interrupted));
        }
        self.scanned = limit;
        let needed = match needed {
            Some(n) if src.len() > n => n,
            Some(n) => {
                src.reserve(1 + n - src.len());
                return None;
            }
            None => return None,
        };
        let frame_bytes = &src[1..=needed];
        let result = check_frame(frame_bytes);
        self.skip(src, 1 + needed);
        Some(result)
    }
}

enum HeaderParse {
    Incomplete,
    Invalid,
    Valid { body_len: usize },
}

fn parse_header(bytes: &[u8]) -> HeaderParse {
    if bytes.len() < HEADER_LEN {
        // Reject early what can already be seen to be wrong.
        let plausible = bytes.first().is_none_or(|&b| FrameKind::from_letter(b).is_some())
            && bytes.iter().skip(1).all(|&b| hex_value(b).is_some());
        return if plausible {
            HeaderParse::Incomplete
        } else {
            HeaderParse::Invalid
        };
    }
    let Some(kind) = FrameKind::from_letter(bytes[0]) else {
        return HeaderParse::Invalid;
    };
    let (Some(_seq), Some(len)) = (parse_hex(&bytes[1..3]), parse_hex(&bytes[3..7])) else {
        return HeaderParse::Invalid;
    };
    let len = len as usize;
    if len > MAX_BODY || (kind != FrameKind::Data && len != 0) {
        return HeaderParse::Invalid;
    }
    HeaderParse::Valid { body_len: len }
}

/// Checks a complete candidate (everything after SOH up to and including the end marker).
fn check_frame(bytes: &[u8]) -> Decoded {
    let (content, end) = bytes.split_at(bytes.len() - 1);
    if end != [EOT] {
        return Decoded::Corrupt(Corruption::MissingEnd);
    }
    let (covered, crc_text) = content.split_at(content.len() - CRC_LEN);
    let body = &covered[HEADER_LEN..];
    if body.contains(&EOT) {
        return Decoded::Corrupt(Corruption::MarkerInBody);
    }
    let Some(crc) = parse_hex(crc_text) else {
        return Decoded::Corrupt(Corruption::BadCrc);
    };
    if crc32fast::hash(covered) != crc {
        return Decoded::Corrupt(Corruption::BadCrc);
    }
    // The header was validated before the frame was complete.
    let (Some(kind), Some(seq)) = (FrameKind::from_letter(covered[0]), parse_hex(&covered[1..3])) else {
        return Decoded::Corrupt(Corruption::BadHeader);
    };
    Decoded::Frame(Frame {
        kind,
        seq: seq as u8,
        body: Bytes::copy_from_slice(body),
    })
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn put_hex(out: &mut [u8], value: u32) {
    let n = out.len();
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 4 * (n - 1 - i);
        *slot = HEX[((value >> shift) & 0xF) as usize];
    }
}

fn hex_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u32),
        b'A'..=b'F' => Some((b - b'A' + 10) as u32),
        _ => None,
    }
}

fn parse_hex(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | hex_value(b)?))
}

impl Decoder for FrameCodec {
    type Item = Decoded;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        Ok(self.decode_step(src))
    }

    /// A frame cut off by the end of the stream is dropped: its sender retransmits it.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        let item = self.decode_step(src);
        if item.is_none() {
            src.clear();
            self.scanned = 0;
        }
        Ok(item)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        frame.encode(dst);
        Ok(())
    }
}

/// Decodes everything in `bytes` (a helper for tests, tools and the documentation checks).
pub fn decode_all(bytes: &[u8]) -> Vec<Decoded> {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec.decode_step(&mut buf) {
        out.push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> Frame {
        Frame::data(7, body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn round_trips_every_kind() {
        for f in [
            frame("{\"type\":\"status\",\"id\":\"s\"}"),
            Frame::ack(0),
            Frame::nak(255),
            frame(""),
        ] {
            assert_eq!(decode_all(&f.to_wire()), vec![Decoded::Frame(f.clone())]);
        }
    }

    #[test]
    fn ack_wire_format_is_fixed() {
        let wire = Frame::ack(0x2A).to_wire();
        assert_eq!(&wire[..8], b"\x01A2A0000");
        assert_eq!(wire.len(), 17);
        let crc = format!("{:08X}", crc32fast::hash(b"A2A0000"));
        assert_eq!(&wire[8..16], crc.as_bytes());
        assert_eq!(wire[16], EOT);
    }

    #[test]
    fn refuses_bodies_it_cannot_frame() {
        assert_eq!(
            Frame::data(0, vec![b'a'; MAX_BODY + 1]),
            Err(FrameError::TooLong(MAX_BODY + 1))
        );
        assert_eq!(Frame::data(0, b"a\x01b".to_vec()), Err(FrameError::MarkerInBody));
        assert_eq!(Frame::data(0, b"a\x04b".to_vec()), Err(FrameError::MarkerInBody));
        assert!(Frame::data(0, vec![b'a'; MAX_BODY]).is_ok());
    }

    #[test]
    fn skips_garbage_between_frames() {
        let a = frame("{\"a\":1}");
        let b = Frame::ack(3);
        let mut wire = b"noise\x00\xff\x04".to_vec();
        wire.extend(a.to_wire());
        wire.extend(b"\r\n\x04junk");
        wire.extend(b.to_wire());
        assert_eq!(decode_all(&wire), vec![Decoded::Frame(a), Decoded::Frame(b)]);
    }

    #[test]
    fn a_cut_frame_does_not_swallow_the_next_one() {
        let a = frame("{\"first\":true}").to_wire();
        let b = frame("{\"second\":true}");
        let mut wire = a[..a.len() - 5].to_vec();
        wire.extend(b.to_wire());
        assert_eq!(
            decode_all(&wire),
            vec![Decoded::Corrupt(Corruption::Interrupted), Decoded::Frame(b)]
        );
    }

    #[test]
    fn reports_each_kind_of_damage() {
        let good = frame("{\"x\":1}").to_wire();
        let mut flipped = good.clone();
        flipped[10] ^= 0x01;
        assert_eq!(decode_all(&flipped), vec![Decoded::Corrupt(Corruption::BadCrc)]);
        let mut no_end = good.clone();
        *no_end.last_mut().unwrap() = b'x';
        assert_eq!(
            decode_all(&no_end),
            vec![Decoded::Corrupt(Corruption::MissingEnd)]
        );
        let mut bad_kind = good.clone();
        bad_kind[1] = b'Q';
        assert_eq!(
            decode_all(&bad_kind),
            vec![Decoded::Corrupt(Corruption::BadHeader)]
        );
        let mut lower_hex = good.clone();
        lower_hex[2] = b'a';
        assert_eq!(
            decode_all(&lower_hex),
            vec![Decoded::Corrupt(Corruption::BadHeader)]
        );
        let too_long = b"\x01D001001xxxx".to_vec();
        assert_eq!(
            decode_all(&too_long),
            vec![Decoded::Corrupt(Corruption::BadHeader)]
        );
        let ack_with_body = b"\x01A000001x00000000\x04".to_vec();
        assert_eq!(
            decode_all(&ack_with_body),
            vec![Decoded::Corrupt(Corruption::BadHeader)]
        );
        let mut eot_inside = good.clone();
        eot_inside[9] = EOT;
        assert_eq!(
            decode_all(&eot_inside),
            vec![Decoded::Corrupt(Corruption::MarkerInBody)]
        );
    }

    #[test]
    fn decodes_a_frame_delivered_byte_by_byte() {
        let f = frame(&"y".repeat(1000));
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in f.to_wire() {
            buf.put_u8(b);
            if let Some(item) = codec.decode_step(&mut buf) {
                out.push(item);
            }
        }
        assert_eq!(out, vec![Decoded::Frame(f)]);
        assert!(buf.is_empty());
    }

    #[test]
    fn buffers_at_most_one_frame_of_garbage() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        // A plausible header announcing a maximal body, followed by endless filler.
        buf.put_slice(b"\x01D001000");
        for _ in 0..100 {
            buf.put_slice(&[b'z'; 997]);
            while codec.decode_step(&mut buf).is_some() {}
            assert!(buf.len() <= MAX_FRAME, "{}", buf.len());
        }
    }
}
