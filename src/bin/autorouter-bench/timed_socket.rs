//! A TCP connection whose reads also say when their bytes reached the socket: the kernel's
//! receive timestamp (`SO_TIMESTAMPNS`), taken as the packet is queued on the client's socket,
//! before the client process is woken. Minus the time the mock stamped in an event, it is how
//! long the bytes took to arrive, without the time the client then waited for a core to read them.
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, on the clock the kernel stamps packets with (and the mock
/// stamps events with).
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// What one read returned.
pub struct Read {
    pub len: usize,
    /// When the last of these bytes was queued on the socket (Unix ns).
    pub arrived_ns: u128,
    /// When the read returned them to the client (Unix ns).
    pub read_ns: u128,
}

pub struct TimedSocket {
    stream: TcpStream,
}

impl TimedSocket {
    pub fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        enable_timestamps(stream.as_raw_fd())?;
        wait_until_packets_are_stamped()?;
        Ok(Self { stream })
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Blocks until bytes arrive; `len` 0 means the peer closed the connection.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Read> {
        let (len, arrived_ns) = recv_stamped(self.stream.as_raw_fd(), buf)?;
        let read_ns = now_ns();
        if len == 0 {
            return Ok(Read {
                len,
                arrived_ns: read_ns,
                read_ns,
            });
        }
        let arrived_ns = arrived_ns.ok_or_else(|| {
            io::Error::other("the kernel gave no receive timestamp (SO_TIMESTAMPNS)")
        })?;
        Ok(Read {
            len,
            arrived_ns,
            read_ns,
        })
    }
}

fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor and a c_int option value of the size passed.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Linux turns packet timestamps on system-wide lazily: when the first socket asks, a deferred
/// work item flips them on, so packets right after may carry none (TCP, unlike UDP, then reports
/// no time at all). A loopback TCP pair probes until they are on; the socket that asked keeps
/// them on for its lifetime.
fn wait_until_packets_are_stamped() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let probe = TcpStream::connect(listener.local_addr()?)?;
    enable_timestamps(probe.as_raw_fd())?;
    let (mut peer, _) = listener.accept()?;
    for _ in 0..1_000 {
        peer.write_all(b"?")?;
        if recv_stamped(probe.as_raw_fd(), &mut [0u8; 1])?.1.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(io::Error::other(
        "the kernel never stamped a received packet (SO_TIMESTAMPNS)",
    ))
}

/// One `recvmsg`: the bytes read and, when the kernel gave one, the receive timestamp (Unix ns).
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<u128>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s keep the control buffer aligned for the cmsghdr it receives.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let len = loop {
        // SAFETY: msg points at a live iovec over `buf` and a live control buffer.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, within msg_controllen;
    // a timestamp message carries one timespec.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((len, stamp))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

    use super::{now_ns, TimedSocket};

    #[test]
    fn a_read_says_when_its_bytes_arrived_and_when_they_were_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut client = TimedSocket::connect(&addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();

        let before_write = now_ns();
        server.write_all(b"data: x\n\n").unwrap();
        // The bytes wait in the socket while the client is busy elsewhere.
        std::thread::sleep(Duration::from_millis(30));
        let mut buf = [0u8; 64];
        let read = client.read(&mut buf).unwrap();

        assert_eq!(&buf[..read.len], b"data: x\n\n");
        assert!(
            read.arrived_ns >= before_write,
            "arrived before it was sent"
        );
        // The kernel stamped the arrival, not the read that came 30 ms later.
        assert!(
            read.read_ns - read.arrived_ns >= 25_000_000,
            "arrival {} vs read {}",
            read.arrived_ns,
            read.read_ns
        );
        drop(server);
        assert_eq!(
            client.read(&mut buf).unwrap().len,
            0,
            "a closed peer reads as 0"
        );
    }
}
