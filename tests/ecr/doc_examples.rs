//! Every byte-level example and every JSON message in docs/ecr-protocol.md is checked against
//! the implementation, so the document ECR vendors implement from cannot drift from the code.

use mposd::ecr::frame::{decode_all, Decoded, Frame, FrameKind};
use mposd::ecr::message::{parse_ecr_message, DaemonMessage};

fn document() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ecr-protocol.md");
    std::fs::read_to_string(path).expect("docs/ecr-protocol.md is readable")
}

/// The fenced blocks with the given info string.
fn blocks(doc: &str, info: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{info}") => current = Some(String::new()),
            None => {}
            Some(_) if line.starts_with("```") => out.extend(current.take()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated ```{info} block");
    out
}

/// `key: value` fields; indented lines continue the previous field.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with(' ') {
            let last = out.last_mut().expect("continuation line after a field");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (key, value) = line.split_once(':').expect("a `key: value` line");
            out.push((key.to_string(), value.trim().to_string()));
        }
    }
    out
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn parse_hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

fn render_ascii(wire: &[u8]) -> String {
    wire.iter()
        .map(|&b| match b {
            0x01 => "<SOH>".to_string(),
            0x04 => "<EOT>".to_string(),
            0x20..=0x7E => (b as char).to_string(),
            other => format!("<{other:02X}>"),
        })
        .collect()
}

/// Body must be a message of one direction or the other, and say exactly what the
/// implementation would say (no misspelt or extra fields, which a parser would ignore).
fn assert_is_protocol_message(json: &str) {
    let value: serde_json::Value = serde_json::from_str(json).expect("example is JSON");
    let as_ecr = parse_ecr_message(json.as_bytes())
        .ok()
        .map(|m| serde_json::to_value(&m).unwrap());
    let as_daemon = serde_json::from_str::<DaemonMessage>(json)
        .ok()
        .map(|m| serde_json::to_value(&m).unwrap());
    assert!(
        as_ecr.as_ref() == Some(&value) || as_daemon.as_ref() == Some(&value),
        "not exactly an ECR or a daemon message: {json}\n as ECR: {as_ecr:?}\n as daemon: {as_daemon:?}"
    );
}

#[test]
fn frame_examples_match_the_codec() {
    let doc = document();
    let examples = blocks(&doc, "ecr-frame");
    assert!(examples.len() >= 5, "found {} frame examples", examples.len());
    for example in examples {
        let fields = fields(&example);
        let kind = field(&fields, "kind").expect("kind");
        let seq = u8::from_str_radix(field(&fields, "seq").expect("seq"), 16).expect("hex seq");
        let body = field(&fields, "body").unwrap_or("");
        let wire = parse_hex(field(&fields, "hex").expect("hex"));
        let frame = match kind {
            "D" => Frame::data(seq, body.as_bytes().to_vec()).expect("frameable body"),
            "A" => Frame::ack(seq),
            "N" => Frame::nak(seq),
            other => panic!("unknown kind {other}"),
        };
        assert_eq!(frame.to_wire(), wire, "encoding of {example}");
        assert_eq!(
            decode_all(&wire),
            vec![Decoded::Frame(frame.clone())],
            "{example}"
        );
        assert_eq!(
            render_ascii(&wire),
            field(&fields, "wire").expect("wire"),
            "{example}"
        );
        if frame.kind() == FrameKind::Data {
            assert_is_protocol_message(body);
        }
    }
}

#[test]
fn stream_examples_decode_as_documented() {
    let doc = document();
    let examples = blocks(&doc, "ecr-stream");
    assert!(!examples.is_empty());
    for example in examples {
        let fields = fields(&example);
        let wire = parse_hex(field(&fields, "hex").expect("hex"));
        let expected: Vec<&str> = fields
            .iter()
            .filter(|(k, _)| k == "expect")
            .map(|(_, v)| v.as_str())
            .collect();
        let decoded: Vec<String> = decode_all(&wire)
            .into_iter()
            .map(|item| match item {
                Decoded::Corrupt(_) => "damaged".to_string(),
                Decoded::Frame(f) => format!(
                    "{} {:02X} {}",
                    f.kind().letter() as char,
                    f.seq(),
                    String::from_utf8_lossy(f.body())
                )
                .trim_end()
                .to_string(),
            })
            .collect();
        assert_eq!(decoded, expected, "{example}");
    }
}

#[test]
fn json_examples_are_protocol_messages() {
    let doc = document();
    let examples = blocks(&doc, "json");
    assert!(examples.len() >= 15, "found {} JSON examples", examples.len());
    for example in examples {
        assert_is_protocol_message(example.trim());
    }
}

#[test]
fn the_documented_crc_check_value_holds() {
    assert!(document().contains("`123456789` is `CBF43926`"));
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}
