//! An HTTP proxy in front of a test server that loses answers on purpose: it forwards a
//! request, lets the server act on it, and then closes the client's connection instead of
//! answering, once per rule. What a client sees when a network fails at the worst moment. It
//! can also refuse some requests every time without passing them on, as a proxy that does not
//! let websockets through answers their handshakes.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops with the runtime it owns.
pub struct LossyProxy {
    _runtime: tokio::runtime::Runtime,
    port: u16,
    lost: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

/// What the proxy does to requests whose request line contains a rule's text.
struct Rules {
    /// The answer to the first such request is lost (each rule is used once).
    lose: Mutex<Vec<String>>,
    /// Every such request is answered 502 without reaching the server.
    refuse: Vec<String>,
}

impl LossyProxy {
    /// Proxies to `upstream_api` (`http://127.0.0.1:PORT/api`); the answer to the first request
    /// whose request line contains each of `lose` (e.g. `"POST /api/flow_runs/ HTTP"`) is lost.
    pub fn start(upstream_api: &str, lose: &[&str]) -> LossyProxy {
        LossyProxy::with_rules(upstream_api, lose, &[])
    }

    /// Proxies to `upstream_api`, answering every request whose request line contains one of
    /// `refuse` (e.g. `"GET /api/events/out "`) with a 502 of its own.
    pub fn refusing(upstream_api: &str, refuse: &[&str]) -> LossyProxy {
        LossyProxy::with_rules(upstream_api, &[], refuse)
    }

    fn with_rules(upstream_api: &str, lose: &[&str], refuse: &[&str]) -> LossyProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("the proxy's runtime starts");
        let upstream = upstream_api
            .trim_start_matches("http://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let owned =
            |rules: &[&str]| -> Vec<String> { rules.iter().map(|s| (*s).to_owned()).collect() };
        let rules = Arc::new(Rules {
            lose: Mutex::new(owned(lose)),
            refuse: owned(refuse),
        });
        let lost = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let logs = Logs {
            lost: lost.clone(),
            refused: refused.clone(),
        };
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, rules, logs) = (upstream.clone(), rules.clone(), logs.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, &rules, &logs).await;
                });
            }
        });
        LossyProxy {
            _runtime: runtime,
            port,
            lost,
            refused,
        }
    }

    /// The proxy's API URL.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// The request lines whose answers were lost.
    pub fn lost(&self) -> Vec<String> {
        self.lost.lock().unwrap().clone()
    }

    /// The request lines the proxy refused.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

/// The request lines the proxy lost the answers to, and those it refused.
#[derive(Clone)]
struct Logs {
    lost: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

/// One HTTP message's head (start line and headers, as sent) and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone().into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

async fn read_message<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut message = Message {
        head,
        body: Vec::new(),
    };
    if let Some(len) = message.header("content-length") {
        let mut body = vec![0; len.parse().unwrap_or(0)];
        r.read_exact(&mut body).await?;
        message.body = body;
    } else if message
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await?;
            message.body.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk);
            if n == 0 {
                break;
            }
        }
    }
    Ok(Some(message))
}

async fn relay(
    client: TcpStream,
    upstream: &str,
    rules: &Rules,
    logs: &Logs,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut server = BufReader::new(TcpStream::connect(upstream).await?);
    while let Some(request) = read_message(&mut client).await? {
        let line = request.head.lines().next().unwrap_or_default().to_owned();
        if rules.refuse.iter().any(|r| line.contains(r.as_str())) {
            logs.refused.lock().unwrap().push(line);
            let refusal =
                "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            client.get_mut().write_all(refusal.as_bytes()).await?;
            return Ok(());
        }
        server.get_mut().write_all(&request.bytes()).await?;
        let Some(response) = read_message(&mut server).await? else {
            return Ok(());
        };
        let lose = {
            let mut rules = rules.lose.lock().unwrap();
            let hit = rules.iter().position(|r| line.contains(r.as_str()));
            hit.map(|i| rules.remove(i)).is_some()
        };
        if lose {
            logs.lost.lock().unwrap().push(line);
            return Ok(()); // the connection closes with the answer unsent
        }
        client.get_mut().write_all(&response.bytes()).await?;
        if response.head.starts_with("HTTP/1.1 101") {
            // A websocket: from here on, bytes flow both ways untouched.
            let early = server.buffer().to_vec();
            client.get_mut().write_all(&early).await?;
            let early = client.buffer().to_vec();
            server.get_mut().write_all(&early).await?;
            tokio::io::copy_bidirectional(client.get_mut(), server.get_mut()).await?;
            return Ok(());
        }
    }
    Ok(())
}
