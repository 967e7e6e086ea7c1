//! A loopback HTTP server answering GETs with fixed JSON, chosen by the
//! request target's longest matching prefix (path and query): what the
//! activity agent's tests stand in for the ResourceManager, Livy and the hub.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The server; it runs until the test process ends.
pub struct FakeHttp {
    pub base: String,
    /// Every request target asked for, in order.
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl FakeHttp {
    /// `routes`: (target prefix, JSON body). A target no prefix matches
    /// answers 404.
    pub fn start(routes: Vec<(String, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                // The headers, up to the empty line.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let target = request.split(' ').nth(1).unwrap_or_default().to_owned();
                log.lock().unwrap().push(target.clone());
                let answer = routes
                    .iter()
                    .filter(|(prefix, _)| target.starts_with(prefix.as_str()))
                    .max_by_key(|(prefix, _)| prefix.len());
                let (status, body) = match answer {
                    Some((_, body)) => ("200 OK", body.clone()),
                    None => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { base, asked }
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}
