//! An HTTP proxy in front of a test server that loses answers on purpose: it forwards a
//! request, lets the server act on it, and then closes the client's connection instead of
//! answering, once per rule. What a client sees when a network fails at the worst moment.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops with the runtime it owns.
pub struct LossyProxy {
    _runtime: tokio::runtime::Runtime,
    port: u16,
    lost: Arc<Mutex<Vec<String>>>,
}

impl LossyProxy {
    /// Proxies to `upstream_api` (`http://127.0.0.1:PORT/api`); the answer to the first request
    /// whose request line contains each of `lose` (e.g. `"POST /api/flow_runs/ HTTP"`) is lost.
    pub fn start(upstream_api: &str, lose: &[&str]) -> LossyProxy {
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
        let rules: Arc<Mutex<Vec<String>>> =
            Arc::new(Mutex::new(lose.iter().map(|s| (*s).to_owned()).collect()));
        let lost = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let lost_log = lost.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, rules, lost) = (upstream.clone(), rules.clone(), lost_log.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, &rules, &lost).await;
                });
            }
        });
        LossyProxy {
            _runtime: runtime,
            port,
            lost,
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
    rules: &Mutex<Vec<String>>,
    lost: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut server = BufReader::new(TcpStream::connect(upstream).await?);
    while let Some(request) = read_message(&mut client).await? {
        server.get_mut().write_all(&request.bytes()).await?;
        let Some(response) = read_message(&mut server).await? else {
            return Ok(());
        };
        let line = request.head.lines().next().unwrap_or_default().to_owned();
        let lose = {
            let mut rules = rules.lock().unwrap();
            let hit = rules.iter().position(|r| line.contains(r.as_str()));
            hit.map(|i| rules.remove(i)).is_some()
        };
        if lose {
            lost.lock().unwrap().push(line);
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
