"""tus 1.0.0 at /tus/ with a third-party client (Debian's python3-tuspy)
and by hand: creation, resumes after a cut connection and after a server
restart, checksums, termination, expiration, ownership, quota."""
import hashlib
import os
import time
import socket
import base64

from harness import ServerTest, basic, data_bytes, request, wait_until

try:
    from tusclient import client as tus_client
    from tusclient.storage import filestorage
    from tusclient.uploader import Uploader
except ImportError:  # named by run.py, which skips this module
    tus_client = None

TUS = {"Tus-Resumable": "1.0.0"}


def b64(text):
    return base64.b64encode(text.encode()).decode()


if tus_client is not None:

    class Md5Uploader(Uploader):
        """tuspy's uploader with md5 as its Upload-Checksum algorithm."""

        CHECKSUM_ALGORITHM_PAIR = ("md5", hashlib.md5)


class TusTest(ServerTest):
    def setUp(self):
        super().setUp()
        self.name, self.pw = self.s.user("alice")
        self.auth = {"Authorization": basic(self.name, self.pw)}

    def uploader(self, path, storage=None, **kw):
        c = tus_client.TusClient(self.s.base + "/tus/", headers=dict(self.auth))
        store = filestorage.FileStorage(storage) if storage else None
        return Md5Uploader(
            path, client=c, chunk_size=kw.pop("chunk_size", 1 << 20), store_url=bool(store), url_storage=store, **kw
        )

    def local(self, name, content):
        p = os.path.join(self.s.dir, name)
        with open(p, "wb") as f:
            f.write(content)
        return p

    def create(self, name, size, folder=None, md5=None, extra=None):
        meta = f"filename {b64(name)}"
        if folder:
            meta += f",folder {b64(folder)}"
        if md5:
            meta += f",md5 {b64(md5)}"
        h = dict(TUS, **self.auth, **{"Upload-Length": str(size), "Upload-Metadata": meta})
        h.update(extra or {})
        return request("POST", self.s.base + "/tus/", h)

    def patch(self, url, offset, body, extra=None):
        h = dict(TUS, **self.auth, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        h.update(extra or {})
        return request("PATCH", url, h, body)

    def head(self, url, auth=None):
        return request("HEAD", url, dict(TUS, **(auth or self.auth)))

    def test_options_advertise_the_extensions(self):
        status, h, _ = request("OPTIONS", self.s.base + "/tus/")
        self.assertEqual(status, 204)
        self.assertEqual(h["tus-version"], "1.0.0")
        exts = set(h["tus-extension"].split(","))
        self.assertEqual(exts, {"creation", "creation-with-upload", "termination", "expiration", "checksum"})
        self.assertEqual(h["tus-checksum-algorithm"], "md5")
        self.assertTrue(int(h["tus-max-size"]) > 0)

    def test_tuspy_uploads_into_a_new_folder_with_md5_checksums(self):
        content = data_bytes(3 * 1024 * 1024 + 123)
        path = self.local("video.bin", content)
        md5 = hashlib.md5(content).hexdigest()
        up = self.uploader(path, upload_checksum=True,
                           metadata={"filename": "影片 1.bin", "folder": "/a/b", "md5": md5, "mtime": "1000000000"})
        up.upload()
        with open(self.s.file_path("alice", "/a/b/影片 1.bin"), "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertEqual(os.stat(self.s.file_path("alice", "/a/b/影片 1.bin")).st_mtime, 1000000000)
        self.assertEqual(self.head(up.url)[0], 404, "a finished upload's URL is gone")
        status, h, body = request("GET", self.s.base + "/files/a/b/" + "%E5%BD%B1%E7%89%87%201.bin", self.auth)
        self.assertEqual((status, hashlib.md5(body).hexdigest()), (200, md5))
        staging = os.path.join(self.s.data, "staging", "alice")
        self.assertEqual([f for f in os.listdir(staging) if not f.startswith(".")], [])

    def test_tuspy_resumes_after_a_server_restart(self):
        content = data_bytes(5 * 1024 * 1024, seed=2)
        path = self.local("big.bin", content)
        urls = os.path.join(self.s.dir, "urls.json")
        first = self.uploader(path, storage=urls, metadata={"filename": "big.bin"})
        first.upload(stop_at=3 * 1024 * 1024)
        self.s.restart()
        again = self.uploader(path, storage=urls, metadata={"filename": "big.bin"})
        self.assertEqual(again.url, first.url, "tuspy found its upload URL again")
        self.assertEqual(again.offset, 3 * 1024 * 1024, "the server kept every byte across the restart")
        again.upload()
        with open(self.s.file_path("alice", "big.bin"), "rb") as f:
            self.assertEqual(f.read(), content)

    def test_patches_never_read_the_staged_bytes_again(self):
        # Each PATCH restores the hash state the one before it saved: the
        # staged bytes are read once (as they arrive), never re-hashed,
        # neither between PATCHes nor across a restart (the log says
        # `rehashed=N` for a PATCH that had to).
        content = data_bytes(20 * 1024 * 1024, seed=7)
        path = self.local("many.bin", content)
        urls = os.path.join(self.s.dir, "urls.json")
        first = self.uploader(path, storage=urls, chunk_size=4 << 20, metadata={"filename": "many.bin"})
        first.upload(stop_at=12 << 20)
        # The server logs a request after its response: the third line
        # may come after tuspy has its 204, so it is waited for before
        # the kill.
        wait_until("the third PATCH logged", lambda: self.s.log_text().count('path="PATCH /tus/') == 3)
        self.s.restart()
        again = self.uploader(path, storage=urls, chunk_size=4 << 20, metadata={"filename": "many.bin"})
        again.upload()
        with open(self.s.file_path("alice", "many.bin"), "rb") as f:
            self.assertEqual(hashlib.md5(f.read()).hexdigest(), hashlib.md5(content).hexdigest())
        log = self.s.log_text()
        self.assertEqual(log.count('path="PATCH /tus/'), 5, log)
        self.assertNotIn("rehashed=", log)

    def test_tuspy_resumes_after_a_cut_connection(self):
        content = data_bytes(2 * 1024 * 1024, seed=3)
        path = self.local("cut.bin", content)
        status, h, _ = self.create("cut.bin", len(content))
        self.assertEqual(status, 201)
        url = h["location"]
        # A PATCH announcing every byte, cut after 1 MiB.
        host, port = self.s.http_addr.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        head = (f"PATCH {url.split(self.s.http_addr, 1)[1]} HTTP/1.1\r\nHost: {self.s.http_addr}\r\n"
                f"Authorization: {self.auth['Authorization']}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(content)}\r\n\r\n")
        sock.sendall(head.encode() + content[: 1 << 20])
        sock.close()
        offset = wait_until("the cut PATCH's bytes kept",
                            lambda: (lambda r: r[0] == 200 and int(r[1]["upload-offset"]) == 1 << 20 and r)(self.head(url)))
        self.assertEqual(offset[1]["upload-length"], str(len(content)))
        up = self.uploader(path, url=url, metadata={"filename": "cut.bin"})
        self.assertEqual(up.offset, 1 << 20)
        up.upload()
        with open(self.s.file_path("alice", "cut.bin"), "rb") as f:
            self.assertEqual(f.read(), content)

    def test_a_wrong_whole_file_md5_is_460_and_nothing_is_kept(self):
        content = data_bytes(100_000, seed=4)
        status, h, _ = self.create("bad.bin", len(content), md5="0" * 32)
        url = h["location"]
        self.assertEqual(self.patch(url, 0, content[:50_000])[0], 204)
        status, h, body = self.patch(url, 50_000, content[50_000:])
        self.assertEqual(status, 460, body)
        self.assertEqual(self.head(url)[0], 404)
        self.assertFalse(os.path.exists(self.s.file_path("alice", "bad.bin")))
        staging = os.path.join(self.s.data, "staging", "alice")
        self.assertEqual([f for f in os.listdir(staging) if f.endswith((".part", ".tus"))], [])

    def test_a_chunk_with_a_wrong_checksum_is_460_and_not_appended(self):
        content = data_bytes(200_000, seed=5)
        url = self.create("c.bin", len(content))[1]["location"]
        good = base64.b64encode(hashlib.md5(content[:100_000]).digest()).decode()
        self.assertEqual(self.patch(url, 0, content[:100_000], {"Upload-Checksum": "md5 " + good})[0], 204)
        wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        status, h, _ = self.patch(url, 100_000, content[100_000:], {"Upload-Checksum": "md5 " + wrong})
        self.assertEqual(status, 460)
        self.assertEqual(self.head(url)[1]["upload-offset"], "100000")
        status, h, _ = self.patch(url, 100_000, content[100_000:])
        self.assertEqual((status, h["upload-offset"]), (204, "200000"))
        with open(self.s.file_path("alice", "c.bin"), "rb") as f:
            self.assertEqual(f.read(), content)

    def test_creation_with_upload_and_an_empty_file(self):
        status, h, _ = self.create("e.txt", 0)
        self.assertEqual(status, 201)
        self.assertEqual(os.path.getsize(self.s.file_path("alice", "e.txt")), 0)
        meta = f"filename {b64('w.txt')}"
        status, h, _ = request("POST", self.s.base + "/tus/", dict(TUS, **self.auth, **{
            "Upload-Length": "11", "Upload-Metadata": meta, "Content-Type": "application/offset+octet-stream"}),
            b"hello world")
        self.assertEqual((status, h["upload-offset"]), (201, "11"))
        self.assertIn("upload-expires", h)
        with open(self.s.file_path("alice", "w.txt"), "rb") as f:
            self.assertEqual(f.read(), b"hello world")

    def test_uploads_belong_to_their_user_and_terminate(self):
        url = self.create("mine.bin", 10)[1]["location"]
        self.assertEqual(self.patch(url, 0, b"12345")[0], 204)
        other = {"Authorization": basic(*self.s.user("bob"))}
        self.assertEqual(self.head(url, other)[0], 404)
        self.assertEqual(request("PATCH", url, dict(TUS, **other, **{
            "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"}), b"67890")[0], 404)
        self.assertEqual(self.patch(url, 3, b"xx")[0], 409, "a wrong offset is a conflict")
        self.assertEqual(request("DELETE", url, dict(TUS, **self.auth))[0], 204)
        self.assertEqual(self.head(url)[0], 404)
        staging = os.path.join(self.s.data, "staging", "alice")
        self.assertEqual([f for f in os.listdir(staging) if f.endswith((".part", ".tus"))], [])

    def test_refusals(self):
        self.assertEqual(self.create("x", 5, extra={"Tus-Resumable": "0.2.2"})[0], 412)
        self.assertEqual(request("POST", self.s.base + "/tus/", dict(TUS, **self.auth, **{"Upload-Length": "5"}))[0], 400)
        self.assertEqual(self.create("a/b", 5)[0], 400)
        self.assertEqual(self.create("..", 5)[0], 400)
        url = self.create("x", 5)[1]["location"]
        self.assertEqual(request("PATCH", url, dict(TUS, **self.auth, **{"Upload-Offset": "0"}), b"12345")[0], 415)
        self.assertEqual(self.patch(url, 0, b"123456")[0], 400, "more bytes than the length")
        self.assertEqual(request("HEAD", url, TUS)[0], 401, "no credentials")


class TusQuotaTest(TusTest):
    server_args = ("--quota", "1M", "--partial-ttl", "2")

    def test_the_size_is_booked_at_creation(self):
        self.assertEqual(self.create("big", 2 * 1024 * 1024)[0], 507)
        self.assertEqual(self.create("fits", 512 * 1024)[0], 201)

    def test_an_upload_expires_with_the_partial_ttl(self):
        url = self.create("slow", 100)[1]["location"]
        self.assertEqual(self.patch(url, 0, b"x" * 10)[0], 204)
        # Any request renews an upload: wait on its record's age, unseen.
        staging = os.path.join(self.s.data, "staging", "alice")
        record = os.path.join(staging, url.rsplit("/", 1)[1] + ".tus")
        wait_until("2 s without a request", lambda: not os.path.exists(record) or time.time() - os.stat(record).st_mtime > 2.5,
                   timeout=30, every=0.1)
        self.assertEqual(self.head(url)[0], 404)

    # The parent's tests do not need a quota.
    test_tuspy_uploads_into_a_new_folder_with_md5_checksums = None
    test_tuspy_resumes_after_a_server_restart = None
    test_patches_never_read_the_staged_bytes_again = None
    test_tuspy_resumes_after_a_cut_connection = None
    test_a_wrong_whole_file_md5_is_460_and_nothing_is_kept = None
    test_a_chunk_with_a_wrong_checksum_is_460_and_not_appended = None
    test_creation_with_upload_and_an_empty_file = None
    test_uploads_belong_to_their_user_and_terminate = None
    test_refusals = None
    test_options_advertise_the_extensions = None
