// A Node store for the drills' tests: the Python model's log format (CRC-32
// in hex, a space, "LSN OP KEY [VALUE]", LF), synchronous I/O throughout.
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

const dir = process.argv[process.argv.length - 1];
const logPath = path.join(dir, "wal.log");
const { O_RDWR, O_APPEND, O_CREAT, O_EXCL } = fs.constants;
const crc = (bytes) => zlib.crc32(bytes).toString(16).padStart(8, "0");
const valid = (t) => t.length >= 1 && t.length <= 64 && /^[!-~]+$/.test(t);
const reply = (text) => fs.writeSync(1, text + "\n");
const table = new Map();
let next = 1;
let fd;

try {
  fd = fs.openSync(logPath, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0o644);
  fs.fsyncSync(fd);
  const dirFd = fs.openSync(dir, "r");
  fs.fsyncSync(dirFd);
  fs.closeSync(dirFd);
} catch (error) {
  if (error.code !== "EEXIST") throw error;
  fd = fs.openSync(logPath, O_RDWR | O_APPEND);
}

function decode(line) {
  if (line.length < 10 || line[line.length - 1] !== 10 || line[8] !== 32) return null;
  if (line.subarray(0, 8).toString("latin1") !== crc(line.subarray(9))) return null;
  const fields = line.subarray(9, line.length - 1).toString("latin1").split(" ");
  if (fields.length < 3 || fields[0] !== String(next)) return null;
  const [, op, key, value] = fields;
  if (op === "PUT" && fields.length === 4 && valid(key) && valid(value)) return [op, key, value];
  if (op === "DEL" && fields.length === 3 && valid(key)) return [op, key];
  return null;
}

const data = fs.readFileSync(logPath);
let offset = 0;
let skipped = 0;
while (offset < data.length) {
  const end = data.indexOf(10, offset);
  const line = end < 0 ? data.subarray(offset) : data.subarray(offset, end + 1);
  const record = decode(line);
  if (!record) {
    process.stderr.write(`skipping corrupt record at offset ${offset}\n`);
    fs.ftruncateSync(fd, offset);
    fs.fsyncSync(fd);
    skipped = 1;
    break;
  }
  if (record[0] === "PUT") table.set(record[1], record[2]);
  else table.delete(record[1]);
  next += 1;
  offset += line.length;
}

function append(fields) {
  const body = Buffer.from([next, ...fields].join(" ") + "\n", "latin1");
  fs.writeSync(fd, Buffer.concat([Buffer.from(crc(body) + " ", "latin1"), body]));
  fs.fdatasyncSync(fd);
  next += 1;
}

function handle(line) {
  const words = line.split(" ");
  const [name, key, value] = words;
  if (name === "CRASH") process.reallyExit(1);
  if ((name === "PUT" || name === "WALPUT") && words.length === 3) {
    append(["PUT", key, value]);
    if (name === "PUT") table.set(key, value);
    return reply("OK");
  }
  if (name === "DEL" && words.length === 2) {
    append(["DEL", key]);
    table.delete(key);
    return reply("OK");
  }
  if (name === "GET" && words.length === 2) {
    return reply(table.has(key) ? `VALUE ${table.get(key)}` : "NOT_FOUND");
  }
  return reply(`ERR bad request ${JSON.stringify(line)}`);
}

reply(`READY replayed ${next - 1}, skipped ${skipped}`);
const buffer = Buffer.alloc(65536);
let pending = Buffer.alloc(0);
for (;;) {
  let count;
  try {
    count = fs.readSync(0, buffer);
  } catch (error) {
    if (error.code === "EAGAIN") continue;
    if (error.code === "EOF") break;
    throw error;
  }
  if (count === 0) break;
  pending = Buffer.concat([pending, buffer.subarray(0, count)]);
  let newline;
  while ((newline = pending.indexOf(10)) >= 0) {
    const line = pending.subarray(0, newline).toString("latin1");
    pending = pending.subarray(newline + 1);
    handle(line);
  }
}
fs.closeSync(fd);
