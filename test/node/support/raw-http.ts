/**
 * HTTP/1.1 by hand over one TCP connection, for what fetch hides: requests sent exactly as a
 * given client sends them (curl's body-less POST has no Content-Length), bodies that are
 * chunked or oversized, and several requests in a row on the same keep-alive connection.
 *
 *   const connection = await RawConnection.open(sts.url);
 *   const first = await connection.request(rawRequest("POST", `${sts.url}/token`, { "content-type": "text/plain" }, "x".repeat(40_000)));
 *   const second = await connection.request(rawRequest("GET", `${sts.url}/healthz`));   // same socket, or it throws
 *   connection.close();
 *
 * It parses only what our worker sends back (a status line, headers, a Content-Length or
 * chunked body); it is not a general HTTP client.
 */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A request's bytes, for `url` (its path and query on the request line, its host and port in
 * `Host`). `body` is sent as given; Content-Length is added only when `headers` has neither
 * it nor Transfer-Encoding.
 */
export function rawRequest(method: string, url: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const { host, pathname, search } = new URL(url);
  const path = pathname + search;
  const all: Record<string, string> = { host, ...headers };
  const hasLength = Object.keys(all).some((name) => /^(content-length|transfer-encoding)$/i.test(name));
  if (body !== undefined && !hasLength) all["content-length"] = String(Buffer.byteLength(body));
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;
  return Buffer.concat([Buffer.from(head), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}

/** A chunked body: `total` bytes of `fill` in chunks of `chunkBytes`, then the last chunk. */
export function chunkedBody(total: number, chunkBytes = 8 * 1024, fill = "a"): Buffer {
  const parts: Buffer[] = [];
  for (let sent = 0; sent < total; sent += chunkBytes) {
    const size = Math.min(chunkBytes, total - sent);
    parts.push(Buffer.from(`${size.toString(16)}\r\n${fill.repeat(size)}\r\n`));
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private closed = false;
  private waiter: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on("error", () => undefined);
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends `bytes` and reads one response from this connection; throws if it closes or stays silent. */
  async request(bytes: Buffer, timeoutMs = 30_000): Promise<RawResponse> {
    if (this.closed) throw new Error("connection already closed by the server");
    this.socket.write(bytes);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = this.take();
      if (response) return response;
      if (this.closed) throw new Error(`the server closed the connection before answering (had: ${JSON.stringify(this.buffer.toString().slice(0, 200))})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer on this connection within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  /** One complete response off the front of the buffer, if there is one. */
  private take(): RawResponse | undefined {
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const at = line.indexOf(":");
      headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
    }
    let rest = this.buffer.subarray(end + 4);
    let body: Buffer;
    if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf("\r\n");
        if (lineEnd < 0) return undefined;
        const size = parseInt(rest.subarray(0, lineEnd).toString(), 16);
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        if (size === 0) {
          rest = rest.subarray(lineEnd + 4);
          break;
        }
        parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        rest = rest.subarray(lineEnd + 2 + size + 2);
      }
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers["content-length"] ?? 0);
      if (rest.length < length) return undefined;
      body = rest.subarray(0, length);
      rest = rest.subarray(length);
    }
    this.buffer = rest;
    return { status, headers, body: body.toString("utf8") };
  }
}
