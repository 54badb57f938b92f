import { connect } from 'node:net';

/** One Server-Sent Event. */
export interface SseEvent {
  type: string;
  // oxlint-disable-next-line typescript/no-explicit-any -- each test asserts the shape it expects
  data: any;
}

/** Parses complete `text/event-stream` blocks out of `buffer`; returns the events and the rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let rest = buffer;
  let end: number;
  while ((end = rest.indexOf('\n\n')) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) events.push({ type, data: JSON.parse(data.join('\n')) });
  }
  return { events, rest };
}

/** A reader of the admin event stream over `fetch` (as the dashboard reads it). */
export class SseReader {
  readonly events: SseEvent[] = [];
  private readonly controller = new AbortController();
  readonly status: Promise<number>;

  constructor(url: string, headers: Record<string, string>) {
    this.status = fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: this.controller.signal }).then((response) => {
      if (response.ok && response.body) void this.read(response.body);
      return response.status;
    });
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = '';
    try {
      for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
        const parsed = parseSse(buffer + chunk);
        buffer = parsed.rest;
        this.events.push(...parsed.events);
      }
    } catch {
      // aborted
    }
  }

  /** Waits until an event matches, up to `timeoutMs`. */
  async waitFor(match: (event: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/**
 * A viewer that stops reading: a raw TCP request for the event stream whose socket is paused
 * right away, so the server's writes back up; `resume()` then reads everything that was kept
 * for it. Parses the chunked body incrementally into {@link events}.
 */
export class StalledViewer {
  private readonly socket;
  private raw = '';
  private headersDone = false;
  private sse = '';
  /** Events received so far. */
  readonly events: SseEvent[] = [];
  /** Whether the server closed the connection. */
  ended = false;

  constructor(port: number, path: string, token: string) {
    this.socket = connect(port, '127.0.0.1');
    // latin1: one character per byte, so chunk sizes can be followed exactly.
    this.socket.setEncoding('latin1');
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
    this.socket.on('data', (chunk: string) => this.take(chunk));
    this.socket.on('close', () => (this.ended = true));
    this.socket.on('error', () => undefined);
    this.socket.pause();
  }

  private take(chunk: string): void {
    this.raw += chunk;
    if (!this.headersDone) {
      const end = this.raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.raw = this.raw.slice(end + 4);
      this.headersDone = true;
    }
    let payload = '';
    for (;;) {
      const eol = this.raw.indexOf('\r\n');
      if (eol < 0) break;
      const size = parseInt(this.raw.slice(0, eol), 16);
      if (Number.isNaN(size) || eol + 2 + size + 2 > this.raw.length) break;
      payload += this.raw.slice(eol + 2, eol + 2 + size);
      this.raw = this.raw.slice(eol + 2 + size + 2);
    }
    const parsed = parseSse(this.sse + Buffer.from(payload, 'latin1').toString('utf8'));
    this.sse = parsed.rest;
    this.events.push(...parsed.events);
  }

  resume(): void {
    this.socket.resume();
  }

  /** Waits until an event matches (or the connection ends), up to `timeoutMs`. */
  async waitFor(match: (event: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found || this.ended || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
