//! How much a client pays to apply one incoming one-keystroke sync message,
//! as the history of an element document grows.
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use std::time::Instant;

fn main() {
    let mut a = AutoCommit::new();
    let text = a.put_object(ROOT, "text", ObjType::Text).unwrap();
    a.splice_text(&text, 0, 0, &"lorem ipsum dolor sit amet ".repeat(20))
        .unwrap();
    let mut b = a.fork();
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    let mut t_recv = 0f64;
    let mut n = 0;
    for (i, pos) in (0..20000).zip(10usize..) {
        a.splice_text(&text, pos, 0, "x").unwrap();
        let m = a.sync().generate_sync_message(&mut sa).unwrap();
        let t = Instant::now();
        b.sync().receive_sync_message(&mut sb, m).unwrap();
        let ack = b.sync().generate_sync_message(&mut sb);
        t_recv += t.elapsed().as_secs_f64();
        n += 1;
        if let Some(ack) = ack {
            a.sync().receive_sync_message(&mut sa, ack).unwrap();
        }
        loop {
            let Some(m) = a.sync().generate_sync_message(&mut sa) else {
                break;
            };
            b.sync().receive_sync_message(&mut sb, m).unwrap();
            if let Some(ack) = b.sync().generate_sync_message(&mut sb) {
                a.sync().receive_sync_message(&mut sa, ack).unwrap();
            }
        }
        if (i + 1) % 2500 == 0 {
            println!(
                "history {:>6}: receive+ack {:.3} ms/msg",
                i + 1,
                t_recv * 1e3 / n as f64
            );
            t_recv = 0.0;
            n = 0;
        }
    }
}
