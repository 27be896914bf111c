//! An HTTP/1.1 chunked body, decoded as its bytes arrive.
use memchr::memmem::find;

#[derive(Default)]
pub struct Dechunker {
    pending: Vec<u8>,
    finished: bool,
}

impl Dechunker {
    /// Takes the next bytes of the body; returns the data of every chunk they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        self.pending.extend_from_slice(bytes);
        let mut data = Vec::new();
        while !self.finished {
            let Some(eol) = find(&self.pending, b"\r\n") else {
                break;
            };
            let line = String::from_utf8_lossy(&self.pending[..eol]);
            let hex = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| format!("not a chunk size line: {line:?}"))?;
            if size == 0 {
                // The last chunk: its (empty) trailer section ends with a blank line.
                if find(&self.pending[eol..], b"\r\n\r\n").is_some() {
                    self.finished = true;
                    self.pending.clear();
                }
                break;
            }
            let end = eol + 2 + size;
            if self.pending.len() < end + 2 {
                break;
            }
            data.extend_from_slice(&self.pending[eol + 2..end]);
            self.pending.drain(..end + 2);
        }
        Ok(data)
    }

    /// The last chunk has arrived.
    pub fn finished(&self) -> bool {
        self.finished
    }
}

/// Where a response head ends (the index just past its blank line).
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    find(bytes, b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::Dechunker;

    #[test]
    fn decodes_chunks_split_anywhere() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        for split in 0..body.len() {
            let mut d = Dechunker::default();
            let mut data = d.feed(&body[..split]).unwrap();
            assert!(!d.finished() || split == body.len());
            data.extend(d.feed(&body[split..]).unwrap());
            assert_eq!(data, b"hello, world", "split at {split}");
            assert!(d.finished(), "split at {split}");
        }
    }

    #[test]
    fn is_not_finished_before_the_last_chunk() {
        let mut d = Dechunker::default();
        assert_eq!(d.feed(b"3\r\nabc\r\n0\r\n").unwrap(), b"abc");
        assert!(!d.finished());
        d.feed(b"\r\n").unwrap();
        assert!(d.finished());
    }

    #[test]
    fn refuses_a_line_that_is_no_chunk_size() {
        assert!(Dechunker::default().feed(b"zz\r\n").is_err());
    }
}
