package telegram

// The Bot API objects the adapter reads, with only the fields it uses
// (channels.md §1.6). Ids are int64: they can exceed 32 bits.

type update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *message           `json:"message"`
	EditedMessage *message           `json:"edited_message"`
	CallbackQuery *callbackQuery     `json:"callback_query"`
	MyChatMember  *chatMemberUpdated `json:"my_chat_member"`
}

type user struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
}

type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type message struct {
	MessageID       int64                 `json:"message_id"`
	MessageThreadID int64                 `json:"message_thread_id"`
	From            *user                 `json:"from"`
	Chat            chat                  `json:"chat"`
	Date            int64                 `json:"date"`
	EditDate        int64                 `json:"edit_date"`
	Text            string                `json:"text"`
	Caption         string                `json:"caption"`
	Photo           []photoSize           `json:"photo"`
	Document        *fileObject           `json:"document"`
	Voice           *fileObject           `json:"voice"`
	Audio           *fileObject           `json:"audio"`
	Video           *fileObject           `json:"video"`
	VideoNote       *fileObject           `json:"video_note"`
	Animation       *fileObject           `json:"animation"`
	Sticker         *sticker              `json:"sticker"`
	Location        *location             `json:"location"`
	Contact         *contact              `json:"contact"`
	ReplyMarkup     *inlineKeyboardMarkup `json:"reply_markup"`
}

type photoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size"`
}

// fileObject covers Document, Voice, Audio, Video, VideoNote and Animation:
// the fields the adapter needs have the same names in all of them.
type fileObject struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name"`
	MimeType     string `json:"mime_type"`
	FileSize     int64  `json:"file_size"`
	Title        string `json:"title"` // audio
}

type sticker struct {
	Emoji string `json:"emoji"`
}

type location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type contact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	From    user     `json:"from"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

type chatMemberUpdated struct {
	Chat          chat       `json:"chat"`
	From          user       `json:"from"`
	Date          int64      `json:"date"`
	NewChatMember chatMember `json:"new_chat_member"`
}

type chatMember struct {
	Status string `json:"status"`
}

type inlineKeyboardMarkup struct {
	InlineKeyboard [][]inlineKeyboardButton `json:"inline_keyboard"`
}

type inlineKeyboardButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
}

// tgFile is what getFile returns.
type tgFile struct {
	FileID   string `json:"file_id"`
	FileSize int64  `json:"file_size"`
	FilePath string `json:"file_path"`
}

// sentMessage is the part of a sent Message the adapter reads back.
type sentMessage struct {
	MessageID int64 `json:"message_id"`
}
