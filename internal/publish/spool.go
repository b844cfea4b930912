package publish

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/dirlock"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// The spool is a folder of append-only segment files. A segment is named
// after the sequence number of its first record (00000000000000000042.seg)
// and holds up to segmentRecords records, each
//
//	uint32 length of the body, little endian
//	uint32 CRC-32C of the body
//	body: the sequence number, the time it was queued and the message
//
// Records leave the queue (acknowledged, dropped or expired) out of the
// segment by their sequence number being appended to the segment's
// companion file 00000000000000000042.done; once every record of a segment
// is done, both files are removed. Writes go to the operating system at
// once and are made durable (fsync) by the publisher's sync loop. A record
// cut short by a crash ends its segment; the records before it are kept.
const (
	segmentRecords = 1024
	segmentExt     = ".seg"
	doneExt        = ".done"
	recordHeader   = 8
	maxRecord      = 256 << 20 // bounds what a damaged length field can make us read
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	first, last uint64 // sequence numbers of the first and last record
	live        int    // records not done yet
	records     int    // records written (active segment only)
	bytes       int64  // of its files on disk
}

type spool struct {
	dir  string
	log  zerolog.Logger
	lock *dirlock.Lock
	next uint64 // sequence number of the next record

	segs   []*segment // by first
	active *os.File   // the segment new records go to (nil until the first)
	buf    []byte

	done    *os.File // open companion file, of doneSeg
	doneSeg *segment

	missing  map[uint64]bool // queued messages whose write failed
	unsynced []*os.File      // finished segments to sync and close
	dirty    bool            // the active segment has unsynced data
	dirDirty bool            // files were created or removed
	closed   bool
	// size is the bytes of the segment files on disk, read by other
	// goroutines (the metrics).
	size atomic.Int64
}

// grow counts n bytes more (or fewer) on disk for seg.
func (s *spool) grow(seg *segment, n int64) {
	seg.bytes += n
	s.size.Add(n)
}

// openSpool locks dir (creating it if needed), reads its segments and
// returns the records not yet done, in order.
func openSpool(dir string, log zerolog.Logger) (*spool, []entry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("spool folder: %w", err)
	}
	lock, err := dirlock.Take(dir, "spool folder")
	if err != nil {
		return nil, nil, err
	}
	s := &spool{dir: dir, log: log, lock: lock, next: 1, missing: map[uint64]bool{}}
	replay, err := s.load()
	if err != nil {
		lock.Release()
		return nil, nil, err
	}
	return s, replay, nil
}

func (s *spool) load() ([]entry, error) {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool folder: %w", err)
	}
	var firsts []uint64
	for _, d := range names {
		base, ok := strings.CutSuffix(d.Name(), segmentExt)
		if !ok || d.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		firsts = append(firsts, first)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	var out []entry
	for _, first := range firsts {
		es, last, err := s.readSegment(first)
		if err != nil {
			return nil, err
		}
		s.next = max(s.next, last+1, first+1)
		if len(es) == 0 {
			s.removeFiles(first)
			continue
		}
		seg := &segment{first: first, last: last, live: len(es)}
		for _, ext := range []string{segmentExt, doneExt} {
			if fi, err := os.Stat(s.path(first, ext)); err == nil {
				s.grow(seg, fi.Size())
			}
		}
		s.segs = append(s.segs, seg)
		out = append(out, es...)
	}
	return out, nil
}

// readSegment returns the live records of a segment and the highest
// sequence number it holds.
func (s *spool) readSegment(first uint64) ([]entry, uint64, error) {
	name := s.path(first, segmentExt)
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	done := map[uint64]bool{}
	if d, err := os.ReadFile(s.path(first, doneExt)); err == nil {
		for i := 0; i+8 <= len(d); i += 8 {
			done[binary.LittleEndian.Uint64(d[i:])] = true
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	var out []entry
	last := first
	for off := 0; off < len(b); {
		e, n, err := decodeRecord(b[off:])
		if err != nil {
			s.log.Warn().Str("file", name).Int("offset", off).Err(err).Msg("spool segment damaged; its remaining records are skipped")
			break
		}
		off += n
		last = max(last, e.seq)
		if !done[e.seq] {
			out = append(out, e)
		}
	}
	return out, last, nil
}

func (s *spool) path(first uint64, ext string) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", first, ext))
}

// append writes e to the active segment, starting a new one when needed.
// A message that could not be written is remembered as missing.
func (s *spool) append(e entry) error {
	if s.closed {
		return errors.New("spool closed")
	}
	var cur *segment
	if n := len(s.segs); n > 0 && s.active != nil {
		cur = s.segs[n-1]
	}
	if cur == nil || cur.records >= segmentRecords {
		if err := s.rotate(e.seq); err != nil {
			s.missing[e.seq] = true
			return err
		}
		cur = s.segs[len(s.segs)-1]
	}
	s.buf = encodeRecord(s.buf[:0], e)
	if _, err := s.active.Write(s.buf); err != nil {
		// A partial record ends the segment for readers: start another.
		cur.records = segmentRecords
		s.missing[e.seq] = true
		return fmt.Errorf("spool: %w", err)
	}
	s.grow(cur, int64(len(s.buf)))
	cur.records++
	cur.live++
	cur.last = e.seq
	s.next = e.seq + 1
	s.dirty = true
	return nil
}

// rotate finishes the active segment and starts one whose first record is seq.
func (s *spool) rotate(seq uint64) error {
	f, err := os.OpenFile(s.path(seq, segmentExt), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.active != nil {
		s.unsynced = append(s.unsynced, s.active)
		old := s.segs[len(s.segs)-1]
		if old.live == 0 {
			s.drop(old)
		}
	}
	s.active = f
	s.segs = append(s.segs, &segment{first: seq, last: seq})
	s.dirDirty = true
	return nil
}

// remove records that seq is done, and removes its segment once all are.
func (s *spool) remove(seq uint64) error {
	if s.closed {
		return nil
	}
	if s.missing[seq] {
		delete(s.missing, seq)
		return nil
	}
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].first > seq }) - 1
	if i < 0 || seq > s.segs[i].last {
		return nil // never spooled (a write failed)
	}
	seg := s.segs[i]
	seg.live--
	isActive := s.active != nil && i == len(s.segs)-1
	if seg.live <= 0 && !isActive {
		s.drop(seg)
		return nil
	}
	if s.doneSeg != seg {
		if s.done != nil {
			_ = s.done.Close()
		}
		f, err := os.OpenFile(s.path(seg.first, doneExt), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			s.done, s.doneSeg = nil, nil
			return fmt.Errorf("spool: %w", err)
		}
		s.done, s.doneSeg = f, seg
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	if _, err := s.done.Write(b[:]); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.grow(seg, int64(len(b)))
	return nil
}

// drop removes a finished segment whose records are all done.
func (s *spool) drop(seg *segment) {
	if s.doneSeg == seg {
		_ = s.done.Close()
		s.done, s.doneSeg = nil, nil
	}
	for i, x := range s.segs {
		if x == seg {
			s.segs = append(s.segs[:i], s.segs[i+1:]...)
			break
		}
	}
	s.removeFiles(seg.first)
	s.grow(seg, -seg.bytes)
}

func (s *spool) removeFiles(first uint64) {
	for _, ext := range []string{segmentExt, doneExt} {
		if err := os.Remove(s.path(first, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn().Err(err).Msg("spool: could not remove a finished segment")
		}
	}
	s.dirDirty = true
}

// syncJob is the fsync work the sync loop does outside the publisher's lock.
type syncJob struct {
	finished []*os.File // sync and close
	active   *os.File   // sync
	dir      string     // sync, if set
}

// takeSync hands over what needs syncing. Caller holds the publisher's lock.
func (s *spool) takeSync() syncJob {
	j := syncJob{finished: s.unsynced}
	s.unsynced = nil
	if s.dirty {
		j.active = s.active
		s.dirty = false
	}
	if s.dirDirty {
		j.dir = s.dir
		s.dirDirty = false
	}
	return j
}

func (j syncJob) run() error {
	var errs []error
	for _, f := range j.finished {
		errs = append(errs, f.Sync(), f.Close())
	}
	if j.active != nil {
		errs = append(errs, j.active.Sync())
	}
	if j.dir != "" {
		errs = append(errs, syncDir(j.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// close syncs and closes every file and removes the active segment if all
// its records are done. Caller holds the publisher's lock; the sync loop
// has stopped.
func (s *spool) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	job := s.takeSync()
	if s.active != nil {
		job.active = nil // synced and closed as a finished file
		job.finished = append(job.finished, s.active)
	}
	err := job.run()
	if s.done != nil {
		_ = s.done.Close()
		s.done, s.doneSeg = nil, nil
	}
	if n := len(s.segs); n > 0 && s.active != nil && s.segs[n-1].live <= 0 {
		s.removeFiles(s.segs[n-1].first)
		s.segs = s.segs[:n-1]
	}
	s.active = nil
	if err == nil && s.dirDirty {
		err = syncDir(s.dir)
	}
	s.lock.Release()
	return err
}

// encodeRecord appends e's record to b.
func encodeRecord(b []byte, e entry) []byte {
	start := len(b)
	b = append(b, make([]byte, recordHeader)...)
	m := e.msg
	b = binary.LittleEndian.AppendUint64(b, e.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.at.UnixNano()))
	var flags byte
	if m.Retain {
		flags |= 1
	}
	if m.UTF8Payload {
		flags |= 2
	}
	b = append(b, m.QoS, flags)
	b = binary.LittleEndian.AppendUint32(b, m.MessageExpiry)
	for _, f := range [][]byte{[]byte(m.Topic), []byte(m.ContentType), []byte(m.ResponseTopic), m.CorrelationData, m.Payload} {
		b = appendBytes(b, f)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.UserProperties)))
	for _, p := range m.UserProperties {
		b = appendBytes(b, []byte(p.Key))
		b = appendBytes(b, []byte(p.Value))
	}
	body := b[start+recordHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// decodeRecord reads the record at the start of b and returns its length.
func decodeRecord(b []byte) (entry, int, error) {
	if len(b) < recordHeader {
		return entry{}, 0, errors.New("record cut short")
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRecord || int(n) > len(b)-recordHeader {
		return entry{}, 0, errors.New("record cut short")
	}
	body := b[recordHeader : recordHeader+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return entry{}, 0, errors.New("record checksum mismatch")
	}
	r := reader{b: body}
	var e entry
	m := &mqttclient.Message{}
	e.msg = m
	e.seq = r.u64()
	e.at = time.Unix(0, int64(r.u64()))
	m.QoS = r.byte()
	flags := r.byte()
	m.Retain, m.UTF8Payload = flags&1 != 0, flags&2 != 0
	m.MessageExpiry = r.u32()
	m.Topic = string(r.bytes())
	m.ContentType = string(r.bytes())
	m.ResponseTopic = string(r.bytes())
	m.CorrelationData = r.bytes()
	m.Payload = r.bytes()
	props := r.u32()
	for i := uint32(0); i < props && r.err == nil; i++ {
		k, v := r.bytes(), r.bytes()
		m.UserProperties = append(m.UserProperties, mqttclient.UserProperty{Key: string(k), Value: string(v)})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("record has trailing bytes")
	}
	if r.err != nil {
		return entry{}, 0, r.err
	}
	return e, recordHeader + int(n), nil
}

// reader decodes a record body; the first overrun sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = errors.New("record field overruns the record")
		}
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	v := r.take(int(n))
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}
