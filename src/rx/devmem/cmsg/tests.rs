use super::*;

/// Appends one control message the way `put_cmsg()` lays it out.
fn put_cmsg(buf: &mut Vec<u8>, level: i32, kind: i32, payload: &[u8]) {
    let len = (CMSG_HDR_LEN + payload.len()) as u64;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&level.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(8) {
        buf.push(0);
    }
}

fn dmabuf_payload(offset: u64, size: u32, token: u32, id: u32) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[0..8].copy_from_slice(&offset.to_ne_bytes());
    p[8..12].copy_from_slice(&size.to_ne_bytes());
    p[12..16].copy_from_slice(&token.to_ne_bytes());
    p[16..20].copy_from_slice(&id.to_ne_bytes());
    p
}

fn linear_payload(size: u32) -> [u8; 24] {
    dmabuf_payload(0, size, 0, 0)
}

fn collect(buf: &[u8]) -> Vec<Result<Frag, CmsgError>> {
    DevmemFrags::new(buf).collect()
}

#[test]
fn several_dmabuf_frags() {
    let mut buf = Vec::new();
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 4096, 1, 7));
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(4096, 4096, 2, 7));
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(12288, 100, 3, 7));
    assert_eq!(buf.len(), 3 * DEVMEM_CMSG_SPACE);
    let frags = collect(&buf);
    assert_eq!(
        frags,
        vec![
            Ok(Frag::Dmabuf { offset: 0, size: 4096, token: 1, dmabuf_id: 7 }),
            Ok(Frag::Dmabuf { offset: 4096, size: 4096, token: 2, dmabuf_id: 7 }),
            Ok(Frag::Dmabuf { offset: 12288, size: 100, token: 3, dmabuf_id: 7 }),
        ]
    );
}

#[test]
fn linear_mixed_in_and_other_cmsgs_ignored() {
    let mut buf = Vec::new();
    // A linear part comes first for an skb whose header split missed.
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_LINEAR, &linear_payload(66));
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(8192, 4030, 9, 3));
    // TCP_CM_INQ (level SOL_TCP=6, type 1) with a 4-byte payload: padded to 8.
    put_cmsg(&mut buf, 6, 1, &5u32.to_ne_bytes());
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_LINEAR, &linear_payload(10));
    let mut it = DevmemFrags::new(&buf);
    let frags: Vec<_> = it.by_ref().collect();
    assert_eq!(
        frags,
        vec![
            Ok(Frag::Linear { size: 66 }),
            Ok(Frag::Dmabuf { offset: 8192, size: 4030, token: 9, dmabuf_id: 3 }),
            Ok(Frag::Linear { size: 10 }),
        ]
    );
    assert_eq!(it.skipped(), 1);
    let mut sum = FragSummary::default();
    for f in frags.iter().flatten() {
        sum.add(f, 3);
    }
    assert_eq!(sum.total_bytes(), 66 + 4030 + 10);
    assert_eq!(sum.linear_frags, 2);
    assert_eq!(sum.foreign_frags, 0);
}

#[test]
fn last_message_without_trailing_padding() {
    // cmsg_len 20 (4-byte payload) as the last message, no padding after it.
    let mut buf = Vec::new();
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 1, 1, 1));
    put_cmsg(&mut buf, 6, 1, &5u32.to_ne_bytes());
    buf.truncate(buf.len() - 4);
    let frags = collect(&buf);
    assert_eq!(frags.len(), 1);
    assert!(frags[0].is_ok());
}

#[test]
fn truncated_like_msg_ctrunc() {
    // put_cmsg() with too little room: cmsg_len is cut to the space left
    // and MSG_CTRUNC is set. Only the first frag survives.
    let mut buf = Vec::new();
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 4096, 1, 7));
    let space_left = 30usize;
    let mut second = Vec::new();
    put_cmsg(&mut second, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(4096, 4096, 2, 7));
    second.truncate(space_left);
    second[0..8].copy_from_slice(&(space_left as u64).to_ne_bytes());
    buf.extend_from_slice(&second);
    let frags = collect(&buf);
    assert_eq!(frags.len(), 2);
    assert!(frags[0].is_ok());
    assert_eq!(frags[1], Err(CmsgError::BadPayload { at: 40, cmsg_type: SCM_DEVMEM_DMABUF, len: 14 }));
}

#[test]
fn buffer_cut_inside_a_message() {
    let mut buf = Vec::new();
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 4096, 1, 7));
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(4096, 4096, 2, 7));
    let cut = &buf[..buf.len() - 5];
    let frags = collect(cut);
    assert_eq!(frags[1], Err(CmsgError::Overrun { at: 40, cmsg_len: 40, remaining: 35 }));
    let cut = &buf[..40 + 10];
    assert_eq!(collect(cut)[1], Err(CmsgError::TruncatedHeader { at: 40, remaining: 10 }));
}

#[test]
fn impossible_lengths() {
    let mut buf = vec![0u8; 16];
    buf[0..8].copy_from_slice(&8u64.to_ne_bytes());
    assert_eq!(collect(&buf), vec![Err(CmsgError::BadLength { at: 0, cmsg_len: 8 })]);
    buf[0..8].copy_from_slice(&u64::MAX.to_ne_bytes());
    assert!(matches!(collect(&buf)[0], Err(CmsgError::Overrun { .. })));
    // An error ends the iteration.
    let mut it = DevmemFrags::new(&buf);
    assert!(it.next().is_some());
    assert!(it.next().is_none());
}

#[test]
fn foreign_dmabuf_id_is_reported_not_judged() {
    let mut buf = Vec::new();
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 4096, 1, 7));
    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 4096, 2, 8));
    let frags: Vec<Frag> = DevmemFrags::new(&buf).map(|f| f.unwrap()).collect();
    assert!(!frags[0].is_foreign(7));
    assert!(frags[1].is_foreign(7));
    assert_eq!(frags[1].token(), Some(2));
    let mut sum = FragSummary::default();
    frags.iter().for_each(|f| sum.add(f, 7));
    assert_eq!(sum.foreign_frags, 1);
    assert_eq!(sum.dmabuf_frags, 2);
}

#[test]
fn empty_buffer_has_no_frags() {
    assert!(collect(&[]).is_empty());
}

#[test]
fn devmem_type_at_other_level_is_ignored() {
    let mut buf = Vec::new();
    put_cmsg(&mut buf, 6, SCM_DEVMEM_DMABUF, &dmabuf_payload(0, 1, 1, 1));
    let mut it = DevmemFrags::new(&buf);
    assert!(it.next().is_none());
    assert_eq!(it.skipped(), 1);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes never panic and never yield more frags than
        /// could fit.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let n = DevmemFrags::new(&bytes).count();
            prop_assert!(n <= bytes.len() / CMSG_HDR_LEN + 1);
        }

        /// Whatever is written round-trips.
        #[test]
        fn round_trip(frags in proptest::collection::vec(
            (any::<bool>(), any::<u64>(), any::<u32>(), 1u32..0x7fff_ffff, any::<u32>()), 0..40)) {
            let mut buf = Vec::new();
            let mut want = Vec::new();
            for (linear, off, size, token, id) in frags {
                if linear {
                    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_LINEAR, &linear_payload(size));
                    want.push(Frag::Linear { size });
                } else {
                    put_cmsg(&mut buf, SOL_SOCKET, SCM_DEVMEM_DMABUF, &dmabuf_payload(off, size, token, id));
                    want.push(Frag::Dmabuf { offset: off, size, token, dmabuf_id: id });
                }
            }
            let got: Vec<Frag> = DevmemFrags::new(&buf).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(got, want);
        }
    }
}
