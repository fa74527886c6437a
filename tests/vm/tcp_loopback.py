"""Workload for cases/tcp_sendrecv.stp: one loopback TCP exchange inside one
process (so target() covers both ends): 1000 bytes client->server, 500 back."""
import socket
import threading


def recv_exactly(conn, n):
    got = b""
    while len(got) < n:
        chunk = conn.recv(n - len(got))
        if not chunk:
            raise SystemExit("connection closed early")
        got += chunk
    return got


srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)


def serve():
    conn, _ = srv.accept()
    recv_exactly(conn, 1000)
    conn.sendall(b"y" * 500)
    conn.close()


t = threading.Thread(target=serve)
t.start()
cli = socket.create_connection(srv.getsockname())
cli.sendall(b"x" * 1000)
recv_exactly(cli, 500)
cli.close()
t.join()
srv.close()
print("exchanged 1000 + 500 bytes", flush=True)
