//! The link layer: reliable, ordered delivery of messages over a line that loses, damages
//! and duplicates bytes.
//!
//! Stop-and-wait in each direction: a side has at most one unacknowledged data frame and
//! retransmits it on NAK or after [`LinkConfig::ack_timeout`], at most
//! [`LinkConfig::max_retransmissions`] times. The two directions are independent, so both
//! sides may send at the same time.
//!
//! Sequence numbers: the first data frame after the line is opened carries 00, the following
//! ones 01, 02, .. FF, 01, ... A receiver discards a data frame with the same sequence number
//! and CRC as the last one it accepted (a retransmission whose ACK was lost) but ACKs it
//! again. Sequence number 00 is never a duplicate: it tells the receiver that the sender
//! started afresh (power cycle, reconnect), so a restarted peer is never ignored. The messages
//! above are idempotent, so the rare double delivery of a retransmitted 00 frame is harmless.
//!
//! Sans-IO: the caller feeds decoded frames and the time, and writes what
//! [`Link::poll_transmit`] returns; the same code runs over serial, TCP and in tests.

use super::frame::{Decoded, Frame, FrameError, FrameKind};
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Timing and limits of the link layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// How long to wait for an ACK before retransmitting. At 115200 baud the largest frame
    /// takes ~0.36 s on the wire, so 1 s leaves room for a busy peer.
    pub ack_timeout: Duration,
    /// Retransmissions after the first transmission before the message is given up.
    pub max_retransmissions: u32,
    /// Messages waiting to be sent; when full, the oldest waiting message is given up. Bounds
    /// memory while the line is down.
    pub max_queued: usize,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            ack_timeout: Duration::from_millis(1000),
            max_retransmissions: 3,
            max_queued: 64,
        }
    }
}

/// What the link layer reports to the layer above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// A message from the peer (delivered once, in order).
    Received(Bytes),
    /// The peer acknowledged this message.
    Delivered(Bytes),
    /// The message was not acknowledged after every retransmission, or was pushed out of a
    /// full queue.
    GaveUp(Bytes),
}

/// Counters for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub frames_sent: u64,
    pub retransmissions: u64,
    pub corrupt_received: u64,
    pub duplicates_received: u64,
    pub given_up: u64,
}

#[derive(Debug)]
struct Outstanding {
    frame: Frame,
    /// `None` until (re)transmitted; then when the ACK is due.
    deadline: Option<Instant>,
    transmissions: u32,
}

/// One side of a link.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    next_seq: u8,
    queue: VecDeque<Bytes>,
    outstanding: Option<Outstanding>,
    /// Sequence number and CRC of the last data frame accepted from the peer.
    last_accepted: Option<(u8, u32)>,
    /// ACKs and NAKs to send, before any data frame.
    control: VecDeque<Frame>,
    nak_queued: bool,
    /// When the last NAK was written, until an intact frame arrives. Damage within an ACK
    /// timeout of it is not answered again: the peer retransmits on its own timer anyway, and a
    /// burst of noise (a frame start every 256 random bytes) must not become a flood of NAKs.
    nak_sent_at: Option<Instant>,
    events: VecDeque<LinkEvent>,
    stats: LinkStats,
}

impl Link {
    pub fn new(config: LinkConfig) -> Link {
        Link {
            config,
            next_seq: 0,
            queue: VecDeque::new(),
            outstanding: None,
            last_accepted: None,
            control: VecDeque::new(),
            nak_queued: false,
            nak_sent_at: None,
            events: VecDeque::new(),
            stats: LinkStats::default(),
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Starts a new link session on a freshly opened line: sequence numbers restart at 00 and
    /// the duplicate memory is cleared. Messages not yet acknowledged are kept and sent first.
    pub fn reset(&mut self) {
        if let Some(out) = self.outstanding.take() {
            self.queue.push_front(out.frame.body().clone());
        }
        self.next_seq = 0;
        self.last_accepted = None;
        self.control.clear();
        self.nak_queued = false;
        self.nak_sent_at = None;
    }

    /// Queues a message. Fails only for a body no frame can carry.
    pub fn send(&mut self, body: impl Into<Bytes>) -> Result<(), FrameError> {
        let body = body.into();
        // Validate now so the caller learns about an unframeable message immediately.
        Frame::data(0, body.clone())?;
        if self.queue.len() >= self.config.max_queued {
            if let Some(oldest) = self.queue.pop_front() {
                self.give_up(oldest);
            }
        }
        self.queue.push_back(body);
        Ok(())
    }

    /// Whether every queued message has been acknowledged (or given up).
    pub fn is_idle(&self) -> bool {
        self.outstanding.is_none() && self.queue.is_empty() && self.control.is_empty()
    }

    /// Feeds one decoding result from the line.
    pub fn receive(&mut self, item: Decoded, now: Instant) {
        let frame = match item {
            Decoded::Frame(frame) => frame,
            Decoded::Corrupt(_) => {
                self.stats.corrupt_received += 1;
                let answered = self
                    .nak_sent_at
                    .is_some_and(|at| now.saturating_duration_since(at) < self.config.ack_timeout);
                if !self.nak_queued && !answered {
                    self.nak_queued = true;
                    self.control.push_back(Frame::nak(0));
                }
                return;
            }
        };
        // The line carries intact frames again: the next damage is news worth a NAK.
        self.nak_sent_at = None;
        match frame.kind() {
            FrameKind::Data => {
                self.control.push_back(Frame::ack(frame.seq()));
                let id = (frame.seq(), frame.crc());
                if frame.seq() != 0 && self.last_accepted == Some(id) {
                    self.stats.duplicates_received += 1;
                    return;
                }
                self.last_accepted = Some(id);
                self.events.push_back(LinkEvent::Received(frame.body().clone()));
            }
            FrameKind::Ack => {
                let acked = self
                    .outstanding
                    .as_ref()
                    .is_some_and(|out| out.deadline.is_some() && out.frame.seq() == frame.seq());
                if acked {
                    if let Some(out) = self.outstanding.take() {
                        self.events
                            .push_back(LinkEvent::Delivered(out.frame.body().clone()));
                    }
                }
            }
            FrameKind::Nak => self.retransmit_or_give_up(now, true),
        }
    }

    /// The next frame to write, if any. The caller writes it at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Frame> {
        if let Some(frame) = self.control.pop_front() {
            if frame.kind() == FrameKind::Nak {
                self.nak_queued = false;
                self.nak_sent_at = Some(now);
            }
            self.stats.frames_sent += 1;
            return Some(frame);
        }
        if self.outstanding.is_none() {
            let body = self.queue.pop_front()?;
            let seq = self.next_seq;
            self.next_seq = if seq == u8::MAX { 1 } else { seq + 1 };
            match Frame::data(seq, body) {
                Ok(frame) => {
                    self.outstanding = Some(Outstanding {
                        frame,
                        deadline: None,
                        transmissions: 0,
                    })
                }
                // Validated in `send`; unreachable in practice, and never fatal.
                Err(_) => return None,
            }
        }
        let out = self.outstanding.as_mut()?;
        if out.deadline.is_some() {
            return None;
        }
        if out.transmissions > 0 {
            self.stats.retransmissions += 1;
        }
        out.transmissions += 1;
        out.deadline = Some(now + self.config.ack_timeout);
        self.stats.frames_sent += 1;
        Some(out.frame.clone())
    }

    /// When [`Link::handle_timeout`] must be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.outstanding.as_ref().and_then(|out| out.deadline)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.retransmit_or_give_up(now, false);
    }

    fn retransmit_or_give_up(&mut self, now: Instant, nak: bool) {
        let Some(out) = self.outstanding.as_mut() else {
            return;
        };
        let Some(deadline) = out.deadline else {
            return;
        };
        if !nak && now < deadline {
            return;
        }
        if out.transmissions > self.config.max_retransmissions {
            if let Some(out) = self.outstanding.take() {
                self.give_up(out.frame.body().clone());
            }
        } else {
            out.deadline = None;
        }
    }

    fn give_up(&mut self, body: Bytes) {
        self.stats.given_up += 1;
        self.events.push_back(LinkEvent::GaveUp(body));
    }

    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecr::frame::{decode_all, Corruption};

    fn link() -> Link {
        Link::new(LinkConfig::default())
    }

    fn drain(link: &mut Link, now: Instant) -> Vec<Frame> {
        std::iter::from_fn(|| link.poll_transmit(now)).collect()
    }

    fn events(link: &mut Link) -> Vec<LinkEvent> {
        std::iter::from_fn(|| link.poll_event()).collect()
    }

    /// Carries every frame from `from` to `to`, returning how many were carried.
    fn carry(from: &mut Link, to: &mut Link, now: Instant) -> usize {
        let frames = drain(from, now);
        for f in &frames {
            for item in decode_all(&f.to_wire()) {
                to.receive(item, now);
            }
        }
        frames.len()
    }

    #[test]
    fn delivers_in_order_with_acks() {
        let config = LinkConfig {
            max_queued: 300,
            ..LinkConfig::default()
        };
        let (mut a, mut b) = (Link::new(config), link());
        let now = Instant::now();
        for i in 0..300 {
            a.send(format!("{{\"n\":{i}}}")).unwrap();
        }
        while carry(&mut a, &mut b, now) + carry(&mut b, &mut a, now) > 0 {}
        let received: Vec<_> = events(&mut b)
            .into_iter()
            .map(|e| match e {
                LinkEvent::Received(body) => String::from_utf8(body.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(received.len(), 300);
        assert_eq!(received[299], "{\"n\":299}");
        assert!(a.is_idle());
        assert_eq!(events(&mut a).len(), 300);
        assert_eq!(a.stats().retransmissions, 0);
    }

    #[test]
    fn sequence_numbers_start_at_zero_and_skip_it_on_wrap() {
        let mut a = link();
        let now = Instant::now();
        let mut seqs = Vec::new();
        for _ in 0..258 {
            a.send(&b"{}"[..]).unwrap();
            let f = a.poll_transmit(now).unwrap();
            seqs.push(f.seq());
            a.receive(Decoded::Frame(Frame::ack(f.seq())), now);
        }
        assert_eq!(&seqs[..3], &[0, 1, 2]);
        assert_eq!(&seqs[255..], &[255, 1, 2]);
    }

    #[test]
    fn retransmits_after_timeout_then_gives_up() {
        let mut a = link();
        let t0 = Instant::now();
        a.send(&b"{\"x\":1}"[..]).unwrap();
        let first = a.poll_transmit(t0).unwrap();
        assert_eq!(a.poll_transmit(t0), None);
        let mut t = t0;
        for _ in 0..3 {
            t = a.next_timeout().unwrap();
            a.handle_timeout(t);
            assert_eq!(a.poll_transmit(t), Some(first.clone()));
        }
        a.handle_timeout(a.next_timeout().unwrap());
        assert_eq!(a.poll_transmit(t), None);
        assert_eq!(events(&mut a), vec![LinkEvent::GaveUp(first.body().clone())]);
        assert_eq!(a.stats().retransmissions, 3);
    }

    #[test]
    fn a_nak_triggers_an_immediate_retransmission() {
        let mut a = link();
        let now = Instant::now();
        a.send(&b"{}"[..]).unwrap();
        let f = a.poll_transmit(now).unwrap();
        a.receive(Decoded::Frame(Frame::nak(0)), now);
        assert_eq!(a.poll_transmit(now), Some(f));
    }

    #[test]
    fn a_duplicate_is_acked_but_delivered_once() {
        let mut b = link();
        let now = Instant::now();
        let f = Frame::data(5, &b"{\"a\":1}"[..]).unwrap();
        b.receive(Decoded::Frame(f.clone()), now);
        b.receive(Decoded::Frame(f), now);
        assert_eq!(drain(&mut b, now), vec![Frame::ack(5), Frame::ack(5)]);
        assert_eq!(events(&mut b).len(), 1);
        assert_eq!(b.stats().duplicates_received, 1);
    }

    #[test]
    fn sequence_zero_is_never_a_duplicate() {
        let mut b = link();
        let now = Instant::now();
        let hello = Frame::data(0, &b"{\"type\":\"hello\"}"[..]).unwrap();
        b.receive(Decoded::Frame(hello.clone()), now);
        b.receive(Decoded::Frame(hello), now);
        assert_eq!(events(&mut b).len(), 2);
    }

    #[test]
    fn same_sequence_with_other_content_is_new() {
        let mut b = link();
        let now = Instant::now();
        b.receive(Decoded::Frame(Frame::data(9, &b"{\"a\":1}"[..]).unwrap()), now);
        b.receive(Decoded::Frame(Frame::data(9, &b"{\"a\":2}"[..]).unwrap()), now);
        assert_eq!(events(&mut b).len(), 2);
    }

    #[test]
    fn corrupt_frames_are_naked_once_until_the_nak_is_sent() {
        let mut b = link();
        let now = Instant::now();
        for _ in 0..5 {
            b.receive(Decoded::Corrupt(Corruption::BadCrc), now);
        }
        assert_eq!(drain(&mut b, now), vec![Frame::nak(0)]);
    }

    #[test]
    fn damage_is_naked_once_per_ack_timeout_until_an_intact_frame_arrives() {
        let mut b = link();
        let t0 = Instant::now();
        b.receive(Decoded::Corrupt(Corruption::BadCrc), t0);
        assert_eq!(drain(&mut b, t0), vec![Frame::nak(0)]);
        // More damage right after the NAK went out: covered by it.
        let soon = t0 + Duration::from_millis(999);
        for _ in 0..400 {
            b.receive(Decoded::Corrupt(Corruption::BadCrc), soon);
            assert_eq!(drain(&mut b, soon), vec![]);
        }
        // Damage lasting past the ACK timeout: one more NAK.
        let later = t0 + Duration::from_millis(1000);
        b.receive(Decoded::Corrupt(Corruption::BadCrc), later);
        assert_eq!(drain(&mut b, later), vec![Frame::nak(0)]);
        // An intact frame in between: the next damage is answered at once.
        b.receive(Decoded::Frame(Frame::ack(7)), later);
        b.receive(Decoded::Corrupt(Corruption::BadCrc), later);
        assert_eq!(drain(&mut b, later), vec![Frame::nak(0)]);
        // A fresh line session forgets the last NAK.
        b.reset();
        b.receive(Decoded::Corrupt(Corruption::BadCrc), later);
        assert_eq!(drain(&mut b, later), vec![Frame::nak(0)]);
        assert_eq!(b.stats().corrupt_received, 404);
    }

    #[test]
    fn stale_acks_are_ignored() {
        let mut a = link();
        let now = Instant::now();
        a.send(&b"{}"[..]).unwrap();
        let f = a.poll_transmit(now).unwrap();
        a.receive(Decoded::Frame(Frame::ack(f.seq().wrapping_add(1))), now);
        assert!(!a.is_idle());
        a.receive(Decoded::Frame(Frame::ack(f.seq())), now);
        assert!(a.is_idle());
    }

    #[test]
    fn a_full_queue_gives_up_the_oldest_message() {
        let mut a = Link::new(LinkConfig {
            max_queued: 2,
            ..LinkConfig::default()
        });
        for i in 0..3 {
            a.send(format!("{i}")).unwrap();
        }
        assert_eq!(events(&mut a), vec![LinkEvent::GaveUp(Bytes::from("0"))]);
    }

    #[test]
    fn reset_resends_the_unacknowledged_message_as_zero() {
        let mut a = link();
        let now = Instant::now();
        a.send(&b"{\"a\":1}"[..]).unwrap();
        a.send(&b"{\"a\":2}"[..]).unwrap();
        let f = a.poll_transmit(now).unwrap();
        a.receive(Decoded::Frame(Frame::ack(0)), now);
        let g = a.poll_transmit(now).unwrap();
        assert_eq!((f.seq(), g.seq()), (0, 1));
        a.reset();
        let again = a.poll_transmit(now).unwrap();
        assert_eq!((again.seq(), again.body()), (0, g.body()));
    }
}
