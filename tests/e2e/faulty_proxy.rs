//! A TCP proxy in front of the test S3 server that fails chosen PUT requests
//! with `503 Slow Down`, as a struggling object store does. The client must
//! open one connection per request (`pool_max_idle_per_host=0`), so that the
//! proxy sees every request line.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Which PUT requests (uploads, parts of uploads) fail.
#[derive(Debug, Clone, Copy)]
pub enum Faults {
    /// Every n-th PUT.
    EveryNthPut(usize),
    /// Every PUT after the first n.
    PutsAfter(usize),
}

/// A running proxy; it stops with the test process.
pub struct FaultyProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    requests: Arc<Mutex<Vec<String>>>,
    injected: Arc<AtomicUsize>,
}

impl FaultyProxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, faults: Faults) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let injected = Arc::new(AtomicUsize::new(0));
        let puts = Arc::new(AtomicUsize::new(0));
        let (r, i) = (requests.clone(), injected.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (r, i, p, up) = (r.clone(), i.clone(), puts.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, faults, &r, &i, &p);
                });
            }
        });
        Self { endpoint, requests, injected }
    }

    /// Requests failed on purpose so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }

    /// Request lines seen so far (`PUT /bucket/key?partNumber=1&uploadId=… HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    faults: Faults,
    requests: &Mutex<Vec<String>>,
    injected: &AtomicUsize,
    puts: &AtomicUsize,
) -> std::io::Result<()> {
    // The request head, and whatever of the body came with it.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    let head_end = loop {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let line = head.lines().next().unwrap_or("").to_string();
    requests.lock().unwrap().push(line.clone());
    let fail = line.starts_with("PUT ") && {
        let n = puts.fetch_add(1, Ordering::SeqCst) + 1;
        match faults {
            Faults::EveryNthPut(k) => n % k == 0,
            Faults::PutsAfter(k) => n > k,
        }
    };
    if fail {
        // Take the whole body first, so the client reads our answer rather
        // than a reset connection.
        let length: usize = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let mut have = buf.len() - head_end;
        while have < length {
            let n = client.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            have += n;
        }
        injected.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                    <Message>injected by the test proxy</Message></Error>";
        write!(
            client,
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return client.shutdown(Shutdown::Both);
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&buf)?;
    let (mut c2, mut s2) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
