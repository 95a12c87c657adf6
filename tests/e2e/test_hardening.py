

def test_a_json_service_refuses_in_its_own_envelope(server: Server) -> None:
    host = urlsplit(server.endpoint).netloc
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: AWSOrganizationsV20161128.ListRoots\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, answer = raw_exchange(server, head)
    assert status == 413
    error = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert error["__type"].endswith("RequestEntityTooLargeException")
    assert "262144 bytes" in error["message"]
