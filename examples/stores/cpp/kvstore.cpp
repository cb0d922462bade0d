// A key-value store with a write-ahead log, in C++17 with no dependencies,
// speaking the store protocol v1 (docs/store-protocol.md). Written from the
// README and the protocol alone, the way a student would, as a second model
// beside examples/stores/python/kvstore.py: a binary log, CRC-32 per record,
// fdatasync before every OK, and a compaction.
//
//     g++ -O2 -std=c++17 -o kvstore kvstore.cpp
//     ./kvstore /tmp/kv            # READY, then PUT k v / GET k / DEL k / WALPUT k v / CRASH
//
// The log: DIR/wal.log, records back to back, no file header. A record:
//
//     bytes 0..3   CRC-32 (IEEE, as zlib's crc32) of every byte after it: the
//                  length, the body; little-endian
//     bytes 4..7   LEN: the body's length in bytes, little-endian
//     body         OP ('P' put, 'D' delete), KLEN (one byte), the key (KLEN
//                  bytes), for a put the value (the rest of the body)
//
// Recovery reads the whole log and replays records from the start. At the
// first record that is partial or damaged (a length out of range, a length
// running past the end of the file, a checksum mismatch, bad fields) it says
// so on stderr and stops: nothing after it is applied. Before the first new
// record is appended, the log is cut back to the end of the last good record
// (truncate, fdatasync); if readable records follow the damage (damage in
// the middle of the log, not a torn tail), the bytes from the damage to the
// end are first kept, durably, in DIR/wal.log.broken-OFFSET.
//
// Compaction: when the log holds COMPACT_EVERY records, the state the log
// describes (every key the log holds, WALPUT ones included: those are in the
// log but not in memory) is written to DIR/wal.log.tmp, which is fdatasync'd,
// renamed over wal.log, and the directory fsync'd, all before the OK of the
// request that filled the log. COMPACT_EVERY is 2 so that the drills, which
// write 2 (w09-l07) and 6 (w09-l08) records, see compactions; w09-l08's
// damage-before-the-last-record step then says it cannot damage record 3 in
// place. Build with -DCOMPACT_EVERY=64 to have that step judge recovery.
//
// One-mistake variants, for the drills' tests (checker/tests/cpp_stores.rs):
// -DMISTAKE_NAME compiles one realistic mistake in; each #ifdef below says
// what it does wrong. The names:
//   NO_FSYNC, FSYNC_BEFORE_LAST_WRITE, SYNC_FILE_RANGE, FSYNC_DIR_NOT_FILE,
//   OFSTREAM_FLUSH, OK_BEFORE_WRITE        (durability of the OK)
//   NO_REPLAY, WALPUT_APPLIED              (the lesson's crash after the WAL write)
//   REPLAYS_PARTIAL, DIES_ON_PARTIAL, NO_CHECKSUM, CHECKSUM_SKIPS_KEY,
//   TRUSTS_LENGTH, APPENDS_BEHIND_TORN_TAIL, DISCARDS_LOG_ON_DAMAGE
//                                          (a torn or flipped last record)
//   SKIPS_CORRUPT_CONTINUES, CUTS_WITHOUT_KEEPING, REFUSES_EARLIER_DAMAGE
//                                          (damage before the last record)
//   COMPACT_NO_TEMP_FSYNC, COMPACT_NO_DIR_FSYNC   (the compaction)
// Two controls, correct in another way: -DCONTROL_O_DSYNC (every write goes
// through an O_DSYNC descriptor instead of being fdatasync'd) and
// -DCONTROL_NO_SCAN (keeps any damaged tail aside whole, without looking for
// readable records in it). Without any of these, this is the correct store.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef COMPACT_EVERY
#define COMPACT_EVERY 2
#endif

namespace {

const size_t MAX_TOKEN = 64;
const uint32_t MAX_BODY = 2 + 2 * MAX_TOKEN;
const size_t HEADER = 8;

uint32_t crc_table[256];

void init_crc() {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

uint32_t crc32(const char* data, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) c = crc_table[(c ^ (unsigned char)data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t get32(const char* p) {
    const unsigned char* u = reinterpret_cast<const unsigned char*>(p);
    return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}

void put32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; i++) out.push_back(char((v >> (8 * i)) & 0xFF));
}

bool valid_token(const std::string& t) {
    if (t.empty() || t.size() > MAX_TOKEN) return false;
    for (char c : t)
        if (c < '!' || c > '~') return false;
    return true;
}

// One record's bytes.
std::string encode(char op, const std::string& key, const std::string& value) {
    std::string body;
    body.push_back(op);
    body.push_back(char(key.size()));
    body += key;
    if (op == 'P') body += value;
    std::string rec;
    std::string covered;
    put32(covered, uint32_t(body.size()));
    covered += body;
#ifdef MISTAKE_CHECKSUM_SKIPS_KEY
    // MISTAKE: the checksum covers the value only, not the length, the op or
    // the key, so a flipped bit in the key replays under another key.
    uint32_t crc = crc32(value.data(), op == 'P' ? value.size() : 0);
#else
    uint32_t crc = crc32(covered.data(), covered.size());
#endif
    put32(rec, crc);
    rec += covered;
    return rec;
}

[[noreturn]] void die(const std::string& what) {
    std::cerr << "kvstore: " << what << ": " << std::strerror(errno) << std::endl;
    std::cout << "ERR " << what << std::endl;
    std::_Exit(2);
}

void write_all(int fd, const char* data, size_t len, const char* what) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            die(what);
        }
        data += n;
        len -= size_t(n);
    }
}

class Store {
   public:
    explicit Store(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/wal.log") {}

    void start();
    std::string handle(const std::string& line);

   private:
    void open_log();
    void sync_dir();
    void recover();
    void keep_tail(const std::string& data, size_t from, size_t readable_after);
    size_t readable_after(const std::string& data, size_t from);
    bool parse(const std::string& data, size_t pos, size_t* next, char* op, std::string* key,
               std::string* value, std::string* why);
    void append(char op, const std::string& key, const std::string& value);
    void make_durable();
    void compact();
    void apply(std::map<std::string, std::string>& m, char op, const std::string& key,
               const std::string& value);

    std::string dir_;
    std::string path_;
    int fd_ = -1;
#ifdef MISTAKE_OK_BEFORE_WRITE
    FILE* file_ = nullptr;
#endif
#ifdef MISTAKE_OFSTREAM_FLUSH
    std::ofstream out_;
#endif
    std::map<std::string, std::string> table_;  // what GET answers
    std::map<std::string, std::string> logged_; // what the log holds (WALPUTs too)
    size_t records_ = 0;                        // records in wal.log
};

#ifdef CONTROL_O_DSYNC
const int SYNC_FLAGS = O_DSYNC;
#else
const int SYNC_FLAGS = 0;
#endif

void Store::sync_dir() {
    int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (d < 0) die("open " + dir_);
    if (::fsync(d) != 0) die("fsync " + dir_);
    ::close(d);
}

void Store::open_log() {
    fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | SYNC_FLAGS, 0644);
    if (fd_ >= 0) {
        // A new log: make the file and its directory entry durable, or a
        // power loss could leave no log after records were acknowledged.
        if (::fsync(fd_) != 0) die("fsync " + path_);
        sync_dir();
        return;
    }
    if (errno != EEXIST) die("create " + path_);
    fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | SYNC_FLAGS);
    if (fd_ < 0) die("open " + path_);
}

void Store::start() {
    ::mkdir(dir_.c_str(), 0755);
    open_log();
#ifdef MISTAKE_NO_REPLAY
    // MISTAKE: the log is never replayed; the store starts empty each time
    // (and still appends to the old log).
    std::cout << "READY replayed 0" << std::endl;
#else
    recover();
#endif
#ifdef MISTAKE_OK_BEFORE_WRITE
    file_ = ::fdopen(fd_, "a");
#endif
#ifdef MISTAKE_OFSTREAM_FLUSH
    out_.open(path_, std::ios::binary | std::ios::app);
#endif
}

// Parses the record at `pos`; false with `why` when it is partial or damaged.
bool Store::parse(const std::string& data, size_t pos, size_t* next, char* op, std::string* key,
                  std::string* value, std::string* why) {
    size_t left = data.size() - pos;
    if (left < HEADER) {
        *why = "partial record: " + std::to_string(left) + " byte(s), no whole header";
        return false;
    }
    uint32_t len = get32(data.data() + pos + 4);
    std::string body;
#if defined(MISTAKE_REPLAYS_PARTIAL)
    // MISTAKE: a record the file ends inside is taken as far as it goes
    // ("the last write was cut short, keep what made it"), without its
    // checksum, which cannot match a shortened record.
    bool partial = len <= MAX_BODY && len > left - HEADER;
    if (partial) len = uint32_t(left - HEADER);
#elif defined(MISTAKE_DIES_ON_PARTIAL)
    // MISTAKE: a record running past the end of the file is an exception
    // nobody catches: the store dies (std::terminate) instead of starting.
    if (len <= MAX_BODY && len > left - HEADER)
        throw std::runtime_error("unexpected end of log at offset " + std::to_string(pos));
#endif
#ifndef MISTAKE_TRUSTS_LENGTH
    if (len < 2 || len > MAX_BODY) {
        *why = "length " + std::to_string(len) + " out of range";
        return false;
    }
    if (len > left - HEADER) {
        *why = "partial record: " + std::to_string(left) + " byte(s) of " +
               std::to_string(HEADER + len);
        return false;
    }
    body = data.substr(pos + HEADER, len);
#else
    // MISTAKE: the body is allocated at the length the record claims before
    // anything checks that the file holds that many bytes (or that the
    // length is sane): a damaged length asks for gigabytes.
    body = std::string(len, '\0');
    size_t got = std::min<size_t>(len, left - HEADER);
    std::memcpy(&body[0], data.data() + pos + HEADER, got);
    if (got < len) {
        *why = "partial record: " + std::to_string(left) + " byte(s) of " +
               std::to_string(HEADER + len);
        return false;
    }
    if (len < 2) {
        *why = "length " + std::to_string(len) + " too short";
        return false;
    }
#endif
    *op = body[0];
    size_t klen = (unsigned char)body[1];
    if (klen + 2 > body.size()) {
        *why = "key length " + std::to_string(klen) + " past the record";
        return false;
    }
    *key = body.substr(2, klen);
    *value = body.substr(2 + klen);
#if defined(MISTAKE_NO_CHECKSUM)
    // MISTAKE: the stored checksum is written but never checked on replay.
    bool crc_ok = true;
#elif defined(MISTAKE_CHECKSUM_SKIPS_KEY)
    bool crc_ok = get32(data.data() + pos) == crc32(value->data(), value->size());
#elif defined(MISTAKE_REPLAYS_PARTIAL)
    bool crc_ok = partial || get32(data.data() + pos) == crc32(data.data() + pos + 4, 4 + len);
#else
    bool crc_ok = get32(data.data() + pos) == crc32(data.data() + pos + 4, 4 + len);
#endif
    if (!crc_ok) {
        *why = "checksum mismatch";
        return false;
    }
    bool fields_ok = valid_token(*key) && ((*op == 'P' && valid_token(*value)) ||
                                           (*op == 'D' && value->empty()));
#ifdef MISTAKE_REPLAYS_PARTIAL
    fields_ok = fields_ok || (partial && valid_token(*key) && *op == 'P' && value->size() <= MAX_TOKEN);
    if (partial && value->empty()) fields_ok = false;
#endif
    if (!fields_ok) {
        *why = "bad fields";
        return false;
    }
    *next = pos + HEADER + len;
    return true;
}

// How many whole records can be read at some offset after `from`.
[[maybe_unused]] size_t Store::readable_after(const std::string& data, size_t from) {
    size_t count = 0;
    size_t pos = from + 1;
    while (pos + HEADER <= data.size()) {
        size_t next;
        char op;
        std::string key, value, why;
        if (parse(data, pos, &next, &op, &key, &value, &why)) {
            count++;
            pos = next;
        } else {
            pos++;
        }
    }
    return count;
}

// Keeps the bytes from `from` to the end in wal.log.broken-FROM, durably.
[[maybe_unused]] void Store::keep_tail(const std::string& data, size_t from, size_t readable) {
    std::string name = path_ + ".broken-" + std::to_string(from);
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("create " + name);
    write_all(fd, data.data() + from, data.size() - from, "write wal.log.broken");
    if (::fsync(fd) != 0) die("fsync " + name);
    ::close(fd);
    sync_dir();
    std::cerr << "kept the " << (data.size() - from) << " damaged byte(s) from offset " << from;
    if (readable > 0) std::cerr << " (" << readable << " readable record(s) after the damage, not applied)";
    std::cerr << " in " << name << std::endl;
}

[[maybe_unused]] void Store::recover() {
    struct stat st;
    if (::fstat(fd_, &st) != 0) die("stat " + path_);
    std::string data(size_t(st.st_size), '\0');
    size_t got = 0;
    while (got < data.size()) {
        ssize_t n = ::pread(fd_, &data[got], data.size() - got, off_t(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("read " + path_);
        got += size_t(n);
    }
    size_t pos = 0, replayed = 0;
    std::string why;
    while (pos < data.size()) {
        size_t next;
        char op;
        std::string key, value;
        if (!parse(data, pos, &next, &op, &key, &value, &why)) {
#ifdef MISTAKE_SKIPS_CORRUPT_CONTINUES
            // MISTAKE: a damaged record is skipped and replay goes on with
            // the records after it, when its length still reads sanely.
            uint32_t len = data.size() - pos >= HEADER ? get32(data.data() + pos + 4) : MAX_BODY + 1;
            if (len <= MAX_BODY && pos + HEADER + len < data.size()) {
                std::cerr << "skipping corrupt record at offset " << pos << " (" << why << ")" << std::endl;
                pos += HEADER + len;
                continue;
            }
#endif
            break;
        }
        apply(table_, op, key, value);
        apply(logged_, op, key, value);
        replayed++;
        pos = next;
    }
    records_ = replayed;
    if (pos < data.size()) {
        std::cerr << "skipping corrupt record at offset " << pos << " (" << why
                  << "); replay stops there" << std::endl;
#if defined(MISTAKE_REFUSES_EARLIER_DAMAGE)
        // MISTAKE: damage with readable records after it is taken as a log
        // nobody should touch: the store exits instead of starting.
        size_t readable = readable_after(data, pos);
        if (readable > 0) {
            std::cerr << "kvstore: " << readable
                      << " readable record(s) after the damage: refusing to start, repair the log"
                      << std::endl;
            std::_Exit(3);
        }
#elif defined(MISTAKE_DISCARDS_LOG_ON_DAMAGE)
        // MISTAKE: any damage makes the whole log suspect: every record is
        // dropped and the log emptied.
        table_.clear();
        logged_.clear();
        records_ = 0;
        pos = 0;
#elif defined(MISTAKE_CUTS_WITHOUT_KEEPING)
        // MISTAKE: the damaged part is cut off with whatever readable
        // records follow it, and kept nowhere.
#elif defined(CONTROL_NO_SCAN)
        keep_tail(data, pos, 0);
#else
        size_t readable = readable_after(data, pos);
        if (readable > 0) keep_tail(data, pos, readable);
#endif
#ifndef MISTAKE_APPENDS_BEHIND_TORN_TAIL
        // Cut the damage off before anything is appended behind it.
        if (::ftruncate(fd_, off_t(pos)) != 0) die("truncate " + path_);
        if (::fdatasync(fd_) != 0) die("fdatasync " + path_);
        std::cerr << "cut the log at offset " << pos << ": " << (data.size() - pos)
                  << " byte(s) removed" << std::endl;
#else
        // MISTAKE: the torn tail is left in the file and new records are
        // appended behind it.
#endif
    }
    std::cout << "READY replayed " << replayed << std::endl;
}

void Store::apply(std::map<std::string, std::string>& m, char op, const std::string& key,
                  const std::string& value) {
    if (op == 'P')
        m[key] = value;
    else
        m.erase(key);
}

[[maybe_unused]] void Store::make_durable() {
#if defined(MISTAKE_NO_FSYNC) || defined(CONTROL_O_DSYNC)
    // MISTAKE (MISTAKE_NO_FSYNC): the record is handed to the kernel and
    // never fsync'd. (CONTROL_O_DSYNC: every write already waited for the
    // disk.)
#elif defined(MISTAKE_SYNC_FILE_RANGE)
    // MISTAKE: sync_file_range starts writeback of the range, but neither
    // waits for the disk's cache nor writes the metadata that finds it.
    if (::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
        die("sync_file_range " + path_);
#elif defined(MISTAKE_FSYNC_DIR_NOT_FILE)
    // MISTAKE: the directory is fsync'd after each append, the log never.
    sync_dir();
#elif defined(MISTAKE_OFSTREAM_FLUSH)
    // MISTAKE: the ofstream is flushed to the kernel; an ofstream has no
    // descriptor to fsync, so nothing makes the record durable.
    out_.flush();
#elif defined(MISTAKE_OK_BEFORE_WRITE)
    // MISTAKE: fsync of the descriptor under a stdio FILE without fflush:
    // the record is still in the FILE's buffer, the OK comes before any
    // write.
    if (::fsync(fileno(file_)) != 0) die("fsync " + path_);
#else
    if (::fdatasync(fd_) != 0) die("fdatasync " + path_);
#endif
}

void Store::append(char op, const std::string& key, const std::string& value) {
    std::string rec = encode(op, key, value);
#if defined(MISTAKE_FSYNC_BEFORE_LAST_WRITE)
    // MISTAKE: the header and the body are two writes, and the fsync comes
    // between them: the body's write is never made durable before the OK.
    write_all(fd_, rec.data(), HEADER, "write wal.log");
    if (::fdatasync(fd_) != 0) die("fdatasync " + path_);
    write_all(fd_, rec.data() + HEADER, rec.size() - HEADER, "write wal.log");
#elif defined(MISTAKE_OFSTREAM_FLUSH)
    out_.write(rec.data(), std::streamsize(rec.size()));
    make_durable();
#elif defined(MISTAKE_OK_BEFORE_WRITE)
    std::fwrite(rec.data(), 1, rec.size(), file_);
    make_durable();
#else
    write_all(fd_, rec.data(), rec.size(), "write wal.log");
    make_durable();
#endif
    apply(logged_, op, key, value);
    records_++;
    if (records_ >= COMPACT_EVERY) compact();
}

void Store::compact() {
    std::string tmp = path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | SYNC_FLAGS, 0644);
    if (fd < 0) die("create " + tmp);
    std::string all;
    for (const auto& [key, value] : logged_) all += encode('P', key, value);
    write_all(fd, all.data(), all.size(), "write wal.log.tmp");
#if defined(MISTAKE_COMPACT_NO_TEMP_FSYNC)
    // MISTAKE: the new log is renamed over the old one without an fsync of
    // its bytes: a power loss can leave wal.log empty.
#elif !defined(CONTROL_O_DSYNC)
    if (::fdatasync(fd) != 0) die("fdatasync " + tmp);
#endif
    if (::rename(tmp.c_str(), path_.c_str()) != 0) die("rename " + tmp);
#ifdef MISTAKE_COMPACT_NO_DIR_FSYNC
    // MISTAKE: the rename is never made durable with an fsync of the
    // directory: a power loss can bring the old log back.
#else
    sync_dir();
#endif
    ::close(fd);
#ifdef MISTAKE_OK_BEFORE_WRITE
    std::fclose(file_);
#else
    ::close(fd_);
#endif
    fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | SYNC_FLAGS);
    if (fd_ < 0) die("open " + path_);
#ifdef MISTAKE_OK_BEFORE_WRITE
    file_ = ::fdopen(fd_, "a");
#endif
#ifdef MISTAKE_OFSTREAM_FLUSH
    out_.close();
    out_.open(path_, std::ios::binary | std::ios::app);
#endif
    records_ = logged_.size();
    std::cerr << "compacted the log to " << records_ << " record(s)" << std::endl;
}

std::string Store::handle(const std::string& line) {
    std::vector<std::string> w;
    size_t i = 0;
    while (i <= line.size()) {
        size_t j = line.find(' ', i);
        if (j == std::string::npos) j = line.size();
        w.push_back(line.substr(i, j - i));
        i = j + 1;
    }
    const std::string& cmd = w[0];
    for (size_t k = 1; k < w.size(); k++)
        if (!valid_token(w[k])) return "ERR bad key or value";
    if (cmd == "PUT" && w.size() == 3) {
        append('P', w[1], w[2]);
        apply(table_, 'P', w[1], w[2]);
        return "OK";
    }
    if (cmd == "DEL" && w.size() == 2) {
        append('D', w[1], "");
        apply(table_, 'D', w[1], "");
        return "OK";
    }
    if (cmd == "WALPUT" && w.size() == 3) {
        append('P', w[1], w[2]);
#ifdef MISTAKE_WALPUT_APPLIED
        // MISTAKE: WALPUT goes down the same path as PUT and is applied to
        // memory, so the lesson's crash after the WAL write never happens.
        apply(table_, 'P', w[1], w[2]);
#endif
        return "OK";
    }
    if (cmd == "GET" && w.size() == 2) {
        auto it = table_.find(w[1]);
        return it == table_.end() ? "NOT_FOUND" : "VALUE " + it->second;
    }
    return "ERR unknown request (expected PUT, DEL, GET, WALPUT or CRASH)";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: kvstore DIR" << std::endl;
        return 2;
    }
    init_crc();
    Store store(argv[1]);
    store.start();
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line == "CRASH") std::_Exit(1);
        // std::endl flushes: the tester waits for each reply line.
        std::cout << store.handle(line) << std::endl;
    }
    return 0;
}
