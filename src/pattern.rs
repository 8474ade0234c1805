//! Payload validation: every byte of the stream is a function of its position, so
//! a receiver can check any chunk knowing only where in the stream it starts.

const SEED: u64 = 0x5a63_6265_6e63_6821;

/// The 8-byte word at stream offset `8 * k` (a splitmix64 step: cheap, and no two
/// nearby positions look alike).
#[inline(always)]
fn word(k: u64) -> u64 {
    let mut z = k.wrapping_add(SEED).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

#[inline(always)]
pub fn byte_at(off: u64) -> u8 {
    word(off / 8).to_le_bytes()[(off % 8) as usize]
}

/// Fill `buf` with the pattern for stream offsets `off..off + buf.len()`.
pub fn fill(buf: &mut [u8], off: u64) {
    let head = (((8 - off % 8) % 8) as usize).min(buf.len());
    for (i, b) in buf[..head].iter_mut().enumerate() {
        *b = byte_at(off + i as u64);
    }
    let mut k = (off + head as u64) / 8;
    let mut chunks = buf[head..].chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&word(k).to_le_bytes());
        k += 1;
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b = word(k).to_le_bytes()[i];
    }
}

/// The first byte that is not what the pattern says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    pub offset: u64,
    pub expected: u8,
    pub got: u8,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "payload mismatch at stream byte {}: expected 0x{:02x}, got 0x{:02x}",
            self.offset, self.expected, self.got
        )
    }
}

impl std::error::Error for Mismatch {}

fn first_bad(buf: &[u8], off: u64) -> Mismatch {
    for (i, &b) in buf.iter().enumerate() {
        let e = byte_at(off + i as u64);
        if b != e {
            return Mismatch { offset: off + i as u64, expected: e, got: b };
        }
    }
    unreachable!("first_bad called on a matching buffer")
}

/// Check `buf` against the pattern for stream offsets starting at `off`.
pub fn check(buf: &[u8], off: u64) -> Result<(), Mismatch> {
    let head = (((8 - off % 8) % 8) as usize).min(buf.len());
    if buf[..head].iter().enumerate().any(|(i, &b)| b != byte_at(off + i as u64)) {
        return Err(first_bad(&buf[..head], off));
    }
    let body_off = off + head as u64;
    let mut chunks = buf[head..].chunks_exact(8);
    for (k, c) in (body_off / 8..).zip(&mut chunks) {
        let got = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if got != word(k) {
            return Err(first_bad(c, 8 * k));
        }
    }
    let rem = chunks.remainder();
    let rem_off = off + (buf.len() - rem.len()) as u64;
    if rem.iter().enumerate().any(|(i, &b)| b != byte_at(rem_off + i as u64)) {
        return Err(first_bad(rem, rem_off));
    }
    Ok(())
}

/// Check a received chunk that starts at stream offset `off`. With `period`, the
/// sender repeats one message of that many bytes (sendfile of one file), so
/// position `p` carries the pattern of `p % period`.
pub fn check_stream(buf: &[u8], off: u64, period: Option<u64>) -> Result<(), Mismatch> {
    let Some(period) = period.filter(|&p| p > 0) else { return check(buf, off) };
    let mut done = 0usize;
    while done < buf.len() {
        let pos = off + done as u64;
        let in_msg = pos % period;
        let n = ((period - in_msg) as usize).min(buf.len() - done);
        check(&buf[done..done + n], in_msg).map_err(|m| Mismatch { offset: pos + (m.offset - in_msg), ..m })?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_streams_check_across_message_edges() {
        let mut msg = vec![0u8; 100];
        fill(&mut msg, 0);
        let stream: Vec<u8> = msg.iter().chain(&msg).chain(&msg).copied().collect();
        for cut in [0usize, 1, 99, 100, 150, 299] {
            check_stream(&stream[cut..], cut as u64, Some(100)).unwrap();
        }
        assert!(check_stream(&stream[100..], 100, None).is_err(), "without a period the repeat is caught");
        let mut bad = stream.clone();
        bad[205] ^= 1;
        assert_eq!(check_stream(&bad[50..], 50, Some(100)).unwrap_err().offset, 205);
    }

    #[test]
    fn any_split_of_a_filled_stream_checks() {
        let mut stream = vec![0u8; 1000];
        fill(&mut stream, 13);
        for (i, &b) in stream.iter().enumerate() {
            assert_eq!(b, byte_at(13 + i as u64));
        }
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            check(&stream[..cut], 13).unwrap();
            check(&stream[cut..], 13 + cut as u64).unwrap();
        }
    }

    #[test]
    fn a_flipped_byte_is_found_where_it_is() {
        let mut buf = vec![0u8; 257];
        fill(&mut buf, 3);
        for pos in [0usize, 4, 5, 100, 256] {
            let mut b = buf.clone();
            b[pos] ^= 0x40;
            let m = check(&b, 3).unwrap_err();
            assert_eq!(m.offset, 3 + pos as u64);
            assert_eq!(m.got, b[pos]);
        }
    }

    #[test]
    fn shifted_data_is_caught() {
        let mut buf = vec![0u8; 64];
        fill(&mut buf, 0);
        assert!(check(&buf, 1).is_err());
        assert!(check(&buf, 8).is_err());
    }
}
