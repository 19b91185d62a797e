package h1

import "strconv"

// Error is a message refused while parsing; Status is the answer a server
// gives (400, 431, 501, 505) or, for a response, 502.
//
// Parse and Next return shared *Error values, so that a refusal allocates
// nothing: compare them by Status or Reason, and never modify one.
type Error struct {
	Status int
	Reason string // short, lower-case, no trailing period, safe to show a client
}

func (e *Error) Error() string {
	return "h1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// code names one reason to refuse a message. The parsers share the codes;
// a request refusal and a response refusal with the same code differ only in
// Status, and both live in the tables below so that returning one costs no
// allocation.
type code uint8

const (
	noError code = iota
	errIncomplete
	errTrailingBytes
	errBareLF
	errBareCR
	errRequestLine
	errMethod
	errTarget
	errStarTarget
	errConnectTarget
	errVersion
	errUnsupportedVersion
	errH2Preface
	errStatusLine
	errStatusCode
	errReason
	errObsFold
	errFieldName
	errFieldValue
	errTooManyFields
	errContentLength
	errDuplicateContentLength
	errTransferEncoding
	errUnknownCoding
	errDuplicateTransferEncoding
	errLengthAndChunked
	errChunkedHTTP10
	errNoHost
	errDuplicateHost
	errHost
	errHostMismatch
	errTrailerField
	errBodyForbidden
	errChunkSize
	errChunkExtension
	errChunkLineTooLong
	errChunkOverhead
	errChunkDataEnd
	errChunkLineEnd
	errTrailerName
	errTrailerValue
	errForbiddenTrailer
	errTrailerTooLarge
	numCodes
)

// codeInfo gives each code its reason and the status a server answers a
// request refused for it with.
var codeInfo = [numCodes]struct {
	status int
	reason string
}{
	errIncomplete:                {400, "incomplete head"},
	errTrailingBytes:             {400, "bytes after the end of the head"},
	errBareLF:                    {400, "line ends in a bare LF"},
	errBareCR:                    {400, "bare CR"},
	errRequestLine:               {400, "malformed request line"},
	errMethod:                    {400, "invalid method"},
	errTarget:                    {400, "invalid request target"},
	errStarTarget:                {400, "asterisk target without OPTIONS"},
	errConnectTarget:             {400, "connect needs an authority target"},
	errVersion:                   {400, "malformed HTTP version"},
	errUnsupportedVersion:        {505, "unsupported http version"},
	errH2Preface:                 {505, "http/2 connection preface"},
	errStatusLine:                {400, "malformed status line"},
	errStatusCode:                {400, "invalid status code"},
	errReason:                    {400, "invalid reason phrase"},
	errObsFold:                   {400, "obsolete line folding"},
	errFieldName:                 {400, "invalid field name"},
	errFieldValue:                {400, "invalid field value"},
	errTooManyFields:             {431, "too many header fields"},
	errContentLength:             {400, "invalid content-length"},
	errDuplicateContentLength:    {400, "more than one content-length"},
	errTransferEncoding:          {400, "invalid transfer-encoding"},
	errUnknownCoding:             {501, "unsupported transfer coding"},
	errDuplicateTransferEncoding: {400, "more than one transfer-encoding"},
	errLengthAndChunked:          {400, "content-length with transfer-encoding"},
	errChunkedHTTP10:             {400, "transfer-encoding on http/1.0"},
	errNoHost:                    {400, "missing host"},
	errDuplicateHost:             {400, "more than one host"},
	errHost:                      {400, "invalid host"},
	errHostMismatch:              {400, "host differs from the target's authority"},
	errTrailerField:              {400, "trailer names a framing field"},
	errBodyForbidden:             {400, "body framing on a status that has no body"},
	errChunkSize:                 {400, "invalid chunk size"},
	errChunkExtension:            {400, "invalid chunk extension"},
	errChunkLineTooLong:          {400, "chunk line too long"},
	errChunkOverhead:             {400, "too much chunk overhead"},
	errChunkDataEnd:              {400, "chunk data not followed by CRLF"},
	errChunkLineEnd:              {400, "chunk line not ended by CRLF"},
	errTrailerName:               {400, "invalid trailer field name"},
	errTrailerValue:              {400, "invalid trailer field value"},
	errForbiddenTrailer:          {400, "forbidden trailer field"},
	errTrailerTooLarge:           {400, "trailer section too large"},
}

var requestErrors, responseErrors [numCodes]Error

func init() {
	for c, in := range codeInfo {
		requestErrors[c] = Error{Status: in.status, Reason: in.reason}
		responseErrors[c] = Error{Status: 502, Reason: in.reason}
	}
}

// requestError and responseError return the shared *Error for c.
func requestError(c code) *Error  { return &requestErrors[c] }
func responseError(c code) *Error { return &responseErrors[c] }
