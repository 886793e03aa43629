package liveengage

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented hosted-file limits (§4.7).
const (
	maxFileSize    = 3 << 20 // 3 MB
	maxPreviewSize = 30 << 10
)

// uploadTypes are the fileType values GenerateURLForUploadFile accepts.
var uploadTypes = map[string]string{
	"JPG":  "image/jpeg",
	"JPEG": "image/jpeg",
	"PNG":  "image/png",
	"GIF":  "image/gif",
}

type storedFile struct {
	fileType string
	declared int
	data     []byte
	uploaded bool
}

// fileStore is the emulated Swift object store. URLs are signed like
// OpenStack Swift temp URLs: HMAC-SHA1(key, METHOD\nexpires\npath), hex.
type fileStore struct {
	mu    sync.Mutex
	key   []byte
	files map[string]*storedFile
}

func newFileStore() *fileStore {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &fileStore{key: k, files: map[string]*storedFile{}}
}

func (s *fileStore) reset() {
	s.mu.Lock()
	s.files = map[string]*storedFile{}
	s.mu.Unlock()
}

func (s *fileStore) sign(method, path string, expires int64) string {
	m := hmac.New(sha1.New, s.key)
	m.Write([]byte(method + "\n" + strconv.FormatInt(expires, 10) + "\n" + path))
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks a temp URL; false means 401 "Temp URL invalid".
func (s *fileStore) verify(method, path, sig, expires string) bool {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return false
	}
	want := s.sign(method, path, exp)
	return hmac.Equal([]byte(want), []byte(sig))
}

type urlResp struct {
	RelativePath string `json:"relativePath"`
	QueryParams  struct {
		TempURLSig     string `json:"temp_url_sig"`
		TempURLExpires string `json:"temp_url_expires"`
	} `json:"queryParams"`
}

func (e *Emulator) signedURL(method, path string) urlResp {
	exp := time.Now().Add(e.opts.FileURLTTL).Unix()
	var out urlResp
	out.RelativePath = path
	out.QueryParams.TempURLSig = e.files.sign(method, path, exp)
	out.QueryParams.TempURLExpires = strconv.FormatInt(exp, 10)
	return out
}

// handleUploadURL implements ms.GenerateURLForUploadFile.
func (e *Emulator) handleUploadURL(w http.ResponseWriter, req *rawReq, reqID string) {
	var b struct {
		FileSize json.RawMessage `json:"fileSize"`
		FileType string          `json:"fileType"`
	}
	if err := json.Unmarshal(req.Body, &b); err != nil {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	// fileSize is documented as a string; a number is accepted too.
	sizeText := strings.Trim(string(bytes.TrimSpace(b.FileSize)), `"`)
	size, err := strconv.Atoi(sizeText)
	ft := strings.ToUpper(b.FileType)
	if _, ok := uploadTypes[ft]; !ok || err != nil || size <= 0 || size > maxFileSize {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	var rnd [32]byte
	_, _ = rand.Read(rnd[:])
	now := time.Now().UTC()
	path := "/v1/AUTH_async-images/" + e.opts.AccountID + "/" + hex.EncodeToString(rnd[:]) + "_uuid_" + randomUUID() + "_" +
		now.Format("02-01-2006_15-04-05") + "-" + strconv.Itoa(now.Nanosecond()/1e6) + "." + ft
	e.files.mu.Lock()
	e.files.files[path] = &storedFile{fileType: ft, declared: size}
	e.files.mu.Unlock()
	writeJSON(w, http.StatusOK, msgResp{"OK", e.signedURL(http.MethodPut, path), reqID})
}

// handleDownloadURL implements ms.GenerateURLForDownloadFile.
func (e *Emulator) handleDownloadURL(w http.ResponseWriter, req *rawReq, reqID string) {
	var b struct {
		RelativePath string `json:"relativePath"`
	}
	if err := json.Unmarshal(req.Body, &b); err != nil || b.RelativePath == "" {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	e.files.mu.Lock()
	f := e.files.files[b.RelativePath]
	ok := f != nil && f.uploaded
	e.files.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, badRequest(reqID, "Bad Request"))
		return
	}
	writeJSON(w, http.StatusOK, msgResp{"OK", e.signedURL(http.MethodGet, b.RelativePath), reqID})
}

func writeTempURLInvalid(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 Unauthorized: Temp URL invalid\n"))
}

// handleFilePut is the Swift PUT of step 4 (§4.7): 201 Created, or 401.
func (e *Emulator) handleFilePut(w http.ResponseWriter, r *http.Request) {
	if e.injectFault(w, r, EndpointFiles, "") {
		return
	}
	q := r.URL.Query()
	path := r.URL.Path
	if !e.files.verify(http.MethodPut, path, q.Get("temp_url_sig"), q.Get("temp_url_expires")) {
		writeTempURLInvalid(w)
		return
	}
	data, err := readLimited(r, maxFileSize)
	if err != nil {
		http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	e.files.mu.Lock()
	f := e.files.files[path]
	if f != nil {
		f.data = data
		f.uploaded = true
	}
	e.files.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// handleFileGet is the Swift GET of step 7.
func (e *Emulator) handleFileGet(w http.ResponseWriter, r *http.Request) {
	if e.injectFault(w, r, EndpointFiles, "") {
		return
	}
	q := r.URL.Query()
	path := r.URL.Path
	if !e.files.verify(http.MethodGet, path, q.Get("temp_url_sig"), q.Get("temp_url_expires")) {
		writeTempURLInvalid(w)
		return
	}
	e.files.mu.Lock()
	f := e.files.files[path]
	var data []byte
	var ft string
	if f != nil && f.uploaded {
		data, ft = f.data, f.fileType
	}
	e.files.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", uploadTypes[ft])
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// validateHosted checks a hosted/file ContentEvent message (§4.6, §4.7):
// relativePath and fileType are mandatory, the file must have been uploaded,
// be at most 3 MB and look like its type; the preview must be under 30 KB.
func (s *fileStore) validateHosted(msg json.RawMessage) string {
	var m struct {
		Caption      string `json:"caption"`
		RelativePath string `json:"relativePath"`
		FileType     string `json:"fileType"`
		Preview      string `json:"preview"`
	}
	if json.Unmarshal(msg, &m) != nil || m.RelativePath == "" || m.FileType == "" {
		return "Bad Request"
	}
	if len(m.Preview) >= maxPreviewSize {
		return "Bad Request, preview is too big"
	}
	s.mu.Lock()
	f := s.files[m.RelativePath]
	var data []byte
	if f != nil && f.uploaded {
		data = f.data
	}
	s.mu.Unlock()
	if data == nil {
		return "Bad Request, file not found"
	}
	if len(data) > maxFileSize || !looksLike(strings.ToUpper(m.FileType), data) {
		return "Bad Request, file is too big or corrupt"
	}
	return ""
}

// looksLike checks the magic bytes of the image types the upload accepts.
func looksLike(ft string, data []byte) bool {
	switch ft {
	case "PNG":
		return bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n"))
	case "JPG", "JPEG":
		return bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF})
	case "GIF":
		return bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a"))
	}
	// IMG, TXT, PDF appear in the HostedFile schema only; accepted as is.
	return true
}
