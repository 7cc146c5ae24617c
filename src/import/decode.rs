//! The encoding of an input, decided by the whole of it, and its decoded text handed to the
//! csv reader piece by piece with the line ends kept, so a record's line is known without
//! holding the text.

use super::Encoding;
use std::collections::VecDeque;
use std::io::Read;

pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Bytes read from the input at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Reads into `buf` until it is full or the input ends (a short read is not the end).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The encoding of a whole input, decided by evidence in one streaming pass that holds 64 KiB.
/// UTF-8 when every byte after a BOM is UTF-8. When some are not, the valid multi-byte
/// characters are weighed against the broken sequences: a UTF-8 file with a few damaged rows
/// has far more of the first (it stays UTF-8 and only the damaged rows are rejected, so no
/// `Jürgen` becomes `JÃ¼rgen`), while a German Excel export (Windows-1252) has umlauts as
/// single bytes that UTF-8 never accepts and almost no valid sequences.
pub(super) fn detect_encoding(input: impl Read) -> std::io::Result<Encoding> {
    Ok(detect_encoding_counting(input)?.0)
}

/// [`detect_encoding`], and the number of `@` bytes in the input: at least the number of rows
/// with an address, so the parser can size its table of seen addresses once.
pub(super) fn detect_encoding_counting(mut input: impl Read) -> std::io::Result<(Encoding, u64)> {
    let mut ats = 0u64;
    // Lead bytes of multi-byte characters in text known to be valid UTF-8.
    let chars = |b: &[u8]| b.iter().filter(|&&c| c >= 0xC0).count() as u64;
    let (mut good, mut bad) = (0u64, 0u64);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut carry = 0; // the start of a character cut by the previous read
    let mut first = true;
    loop {
        let n = read_full(&mut input, &mut buf[carry..])?;
        let end = carry + n;
        ats += memchr::memchr_iter(b'@', &buf[carry..end]).count() as u64;
        let mut at = 0;
        if first {
            first = false;
            if buf[..end].starts_with(BOM) {
                at = BOM.len();
            }
        }
        carry = 0;
        while at < end {
            match std::str::from_utf8(&buf[at..end]) {
                Ok(_) => {
                    good += chars(&buf[at..end]);
                    at = end;
                }
                Err(e) => {
                    let valid = at + e.valid_up_to();
                    good += chars(&buf[at..valid]);
                    match e.error_len() {
                        // Cut by the read: keep it for the next one, unless the input ended.
                        None if n > 0 => {
                            buf.copy_within(valid..end, 0);
                            carry = end - valid;
                            at = end;
                        }
                        None => {
                            bad += 1;
                            at = end;
                        }
                        Some(k) => {
                            bad += 1;
                            at = valid + k;
                        }
                    }
                }
            }
        }
        if n == 0 {
            let encoding = if bad == 0 || good > bad {
                Encoding::Utf8
            } else {
                Encoding::Windows1252
            };
            return Ok((encoding, ats));
        }
    }
}

/// Decoded text of an input, handed to the csv reader piece by piece, with the positions of its
/// line ends kept for `LineEnds::line_at`.
pub(super) struct Source<R> {
    input: R,
    /// None for UTF-8 (the bytes pass as they are); Windows-1252 sniffs a further BOM as
    /// `encoding_rs`' `decode` does.
    decoder: Option<encoding_rs::Decoder>,
    /// The first bytes, read to look for a BOM.
    head: Vec<u8>,
    raw: Vec<u8>,
    /// Decoded text not yet handed out: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Offset in the decoded text of the end of `buf`.
    decoded: u64,
    pub(super) ends: LineEnds,
}

impl<R: Read> Source<R> {
    pub(super) fn new(mut input: R, encoding: Encoding) -> std::io::Result<Self> {
        let mut head = vec![0u8; BOM.len()];
        let n = read_full(&mut input, &mut head)?;
        head.truncate(n);
        if head == BOM {
            head.clear();
        }
        Ok(Source {
            input,
            decoder: (encoding == Encoding::Windows1252)
                .then(|| encoding_rs::WINDOWS_1252.new_decoder()),
            head,
            raw: Vec::new(),
            buf: Vec::new(),
            pos: 0,
            eof: false,
            decoded: 0,
            ends: LineEnds::default(),
        })
    }

    /// Appends the next piece of decoded text to `buf`; false at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let start = self.buf.len();
        let n = match &mut self.decoder {
            None => {
                self.buf.resize(start + READ_CHUNK, 0);
                let h = std::mem::take(&mut self.head);
                self.buf[start..start + h.len()].copy_from_slice(&h);
                let n = h.len() + read_full(&mut self.input, &mut self.buf[start + h.len()..])?;
                self.buf.truncate(start + n);
                n
            }
            Some(decoder) => {
                self.raw.resize(READ_CHUNK, 0);
                let h = std::mem::take(&mut self.head);
                self.raw[..h.len()].copy_from_slice(&h);
                let n = h.len() + read_full(&mut self.input, &mut self.raw[h.len()..])?;
                let last = n == 0;
                let mut src = &self.raw[..n];
                loop {
                    let old = self.buf.len();
                    let room = decoder
                        .max_utf8_buffer_length(src.len())
                        .unwrap_or(src.len() * 3 + 16);
                    self.buf.resize(old + room, 0);
                    let (result, read, written, _) =
                        decoder.decode_to_utf8(src, &mut self.buf[old..], last);
                    self.buf.truncate(old + written);
                    src = &src[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
                n
            }
        };
        self.ends.scan(&self.buf[start..], self.decoded);
        self.decoded += (self.buf.len() - start) as u64;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0 || self.buf.len() > start)
    }

    /// The first line of the text (decoded, not consumed), for `detect_delimiter`.
    pub(super) fn first_line(&mut self) -> std::io::Result<String> {
        let mut searched = self.pos;
        loop {
            if let Some(i) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..searched + i + 1];
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            searched = self.buf.len();
            if !self.fill()? {
                return Ok(String::from_utf8_lossy(&self.buf[self.pos..]).into_owned());
            }
        }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Maps byte offsets of the decoded text to 1-based line numbers without holding the text: the
/// offsets of its CR and LF bytes are kept from the last queries on.
#[derive(Default)]
pub(super) struct LineEnds {
    /// Offset of each CR or LF not yet forgotten, with the number of LFs before it.
    at: VecDeque<(u64, u64)>,
    /// LFs seen in all the text scanned so far.
    lfs: u64,
    /// The previous query: the csv reader asks about its position and then about the record's
    /// start, which may lie just before it; nothing before both is asked again.
    prev: u64,
}

impl LineEnds {
    fn scan(&mut self, text: &[u8], offset: u64) {
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.at.push_back((offset + i as u64, self.lfs));
                self.lfs += u64::from(b == b'\n');
            }
        }
    }

    pub(super) fn line_at(&mut self, byte: u64) -> u64 {
        // After a CR the csv reader starts the next record on the LF: skip the line end.
        let first = self.at.partition_point(|&(o, _)| o < byte);
        let (mut end, mut i) = (byte, first);
        while i < self.at.len() && self.at[i].0 == end {
            end += 1;
            i += 1;
        }
        let line = 1 + self.at.get(i).map_or(self.lfs, |&(_, lfs)| lfs);
        let keep = self.prev.min(byte);
        while self.at.front().is_some_and(|&(o, _)| o < keep) {
            self.at.pop_front();
        }
        self.prev = byte;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_decided_by_the_whole_input() {
        // A two-byte character cut by the 64 KiB read boundary is still UTF-8 ...
        let mut data = b"email;name\n".to_vec();
        data.resize(READ_CHUNK - 1, b'x');
        data.extend_from_slice("ü\n".as_bytes());
        assert_eq!(detect_encoding(&data[..]).unwrap(), Encoding::Utf8);
        // ... and one Latin-1 byte far behind the first 64 KiB makes the whole file Windows-1252.
        data.extend_from_slice(&vec![b'y'; 3 * READ_CHUNK]);
        data.push(0xfc);
        assert_eq!(detect_encoding(&data[..]).unwrap(), Encoding::Windows1252);
        assert_eq!(
            detect_encoding(&b"\xEF\xBB\xBFemail\n\xEF\xBB"[..]).unwrap(),
            Encoding::Windows1252
        );
        assert_eq!(
            detect_encoding(&b"\xEF\xBB\xBF"[..]).unwrap(),
            Encoding::Utf8
        );
    }
}
