//! Attachments as Viber takes them, both ways: which message type a staff member's file goes as
//! (`picture`, `video` or `file`) within Viber's limits, and every name derived for a file — the
//! `file_name` of a `file` message, the extension a media link must end with, the object key of
//! a stored attachment, the name shown for a file a client sent, and content types read from
//! extensions. The one home of media naming: the staff API (uploads), the processor (copies of
//! client media) and [`super::reply`] (messages) all use these. Pure functions, no I/O.

use super::reply::{ReplyError, fitting_prefix};
use crate::ids::AttachmentId;

/// Viber's limit on a `file` message's `file_name` (docs/viber-api.md §6).
pub const FILE_NAME_MAX_CHARS: usize = 256;

/// Sizes are decimal (1 MB = 1,000,000 bytes): the stricter reading of Viber's limits.
pub(crate) const MB: u64 = 1_000_000;
/// A JPEG or PNG goes as a `picture` up to 1 MB: Viber allows 1 MB on iOS and 3 MB on Android,
/// and a reply cannot know which device the client reads it on. Larger ones go as a `file`.
pub const PICTURE_MAX_BYTES: u64 = MB;
/// A GIF goes as a `picture` only up to 100 KB. Viber's pictures must not be animated, and
/// whether a GIF is animated cannot be told from its name, type and size. Animations are rarely
/// this small while static GIFs (icons, diagrams) usually are; a larger GIF goes as a `file`,
/// which keeps any animation. A small animated GIF sent as a picture loses only its motion.
pub const GIF_PICTURE_MAX_BYTES: u64 = 100 * 1000;
/// An MP4 goes as a `video` up to 26 MB (creators-hub and the newer legacy docs; older ones
/// said 50 MB). Larger ones go as a `file`.
pub const VIDEO_MAX_BYTES: u64 = 26 * MB;
/// Viber's largest media limit: a `file` of at most 50 MB.
pub const FILE_MAX_BYTES: u64 = 50 * MB;

/// Extensions Viber refuses in a `file` message (docs/viber-api.md §6), lowercase.
/// Windows first, then macOS (`action app command csh osx workflow`; `bin` is in both lists),
/// Linux (`ksh out run`; `bin csh` again), Android (`apk`) and iOS (`ipa`).
pub const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "bat", "bin", "cmd", "com", "cpl", "exe", "gadget", "inf1", "ins", "inx", "isu", "job", "jse", "lnk", "msc", "msi",
    "msp", "mst", "paf", "pif", "ps1", "reg", "rgs", "sct", "shb", "shs", "u3p", "vb", "vbe", "vbs", "vbscript", "ws",
    "wsf", "action", "app", "command", "csh", "osx", "workflow", "ksh", "out", "run", "apk", "ipa",
];

/// The Viber message type an attachment is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Picture,
    Video,
    File,
}

/// The extensions a `picture` link may end with (`.jpg` is not in the rule's text but in every
/// example of Viber's docs, and works).
const PICTURE_URL_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif"];

/// Which message type an attachment goes as:
/// - [`MediaKind::Picture`]: JPEG or PNG up to [`PICTURE_MAX_BYTES`], GIF up to
///   [`GIF_PICTURE_MAX_BYTES`];
/// - [`MediaKind::Video`]: MP4 (`video/mp4`) up to [`VIDEO_MAX_BYTES`];
/// - [`MediaKind::File`]: anything else up to [`FILE_MAX_BYTES`], with an extension (its own, or
///   one for its content type, see [`viber_file_name`]) that Viber does not forbid.
///
/// The content type decides; a generic one (`application/octet-stream`, empty) is replaced by
/// the type the file name's extension suggests. A name with a forbidden extension is refused
/// whatever the type claims, and so is an empty file.
pub fn media_kind(content_type: &str, file_name: &str, size: u64) -> Result<MediaKind, ReplyError> {
    if size == 0 {
        return Err(ReplyError::EmptyFile {
            file_name: file_name.to_owned(),
        });
    }
    refuse_forbidden(file_name, clean_name(file_name))?;
    let essence = essence(content_type, file_name);
    let picture_limit = match essence.as_str() {
        "image/gif" => Some(GIF_PICTURE_MAX_BYTES),
        e if picture_extension(e).is_some() => Some(PICTURE_MAX_BYTES),
        _ => None,
    };
    if picture_limit.is_some_and(|limit| size <= limit) {
        return Ok(MediaKind::Picture);
    }
    if essence == "video/mp4" && size <= VIDEO_MAX_BYTES {
        return Ok(MediaKind::Video);
    }
    check_file(content_type, file_name, size)?;
    Ok(MediaKind::File)
}

/// What the staff API checks before handing out an upload URL: whether the file can be sent to
/// Viber at all (not empty, at most [`FILE_MAX_BYTES`], an extension Viber accepts). The same
/// rules as [`media_kind`], so an accepted upload is never refused when the reply is sent.
pub fn check_upload(file_name: &str, content_type: &str, size: u64) -> Result<(), ReplyError> {
    media_kind(content_type, file_name, size).map(drop)
}

/// The rules of a `file` message: at most 50 MB, and a `file_name` Viber accepts.
pub(crate) fn check_file(content_type: &str, file_name: &str, size: u64) -> Result<(), ReplyError> {
    if size > FILE_MAX_BYTES {
        return Err(ReplyError::TooLarge {
            file_name: file_name.to_owned(),
            size,
            limit: FILE_MAX_BYTES,
        });
    }
    viber_file_name(file_name, content_type).map(drop)
}

/// The `file_name` of a `file` message: the attachment's name without surrounding whitespace and
/// trailing dots, given an extension for its content type when it has none (`report` +
/// `application/pdf` → `report.pdf`), and shortened to [`FILE_NAME_MAX_CHARS`] keeping the
/// extension. Refused when no extension can be found or Viber forbids it.
pub fn viber_file_name(file_name: &str, content_type: &str) -> Result<String, ReplyError> {
    let name = clean_name(file_name);
    let (stem, ext) = match extension(name) {
        Some(ext) => (&name[..name.len() - ext.len() - 1], ext),
        None => {
            let ext = extension_for_content_type(&essence(content_type, name)).ok_or_else(|| {
                ReplyError::MissingExtension {
                    file_name: file_name.to_owned(),
                }
            })?;
            (if name.is_empty() { "file" } else { name }, ext)
        }
    };
    refuse_forbidden(file_name, &format!("x.{ext}"))?;
    let stem_budget = FILE_NAME_MAX_CHARS - ext.len() - 1;
    let stem = stem[..fitting_prefix(stem, stem_budget)].trim_end();
    let stem = if stem.is_empty() { "file" } else { stem };
    Ok(format!("{stem}.{ext}"))
}

/// A name without surrounding whitespace or trailing dots (Windows drops those, so
/// `setup.exe.` would be saved as `setup.exe`).
fn clean_name(file_name: &str) -> &str {
    file_name.trim().trim_end_matches(['.', ' ']).trim()
}

/// Refuses `name` when its extension is one Viber forbids; `file_name` is the one to report.
fn refuse_forbidden(file_name: &str, name: &str) -> Result<(), ReplyError> {
    match extension(name).map(str::to_ascii_lowercase) {
        Some(ext) if FORBIDDEN_EXTENSIONS.contains(&ext.as_str()) => Err(ReplyError::ForbiddenExtension {
            file_name: file_name.to_owned(),
            extension: ext,
        }),
        _ => Ok(()),
    }
}

/// The content type without parameters, lowercase; the file name's type when it says nothing.
fn essence(content_type: &str, file_name: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if is_generic_content_type(&essence) {
        guess_content_type(clean_name(file_name)).to_owned()
    } else {
        essence
    }
}

/// The extension a picture of this content type gets, if Viber takes it as a picture.
fn picture_extension(essence: &str) -> Option<&'static str> {
    match essence {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpeg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        _ => None,
    }
}

/// The extension (without the dot) the media link of an attachment sent as `kind` must end
/// with (docs/viber-api.md §6: Viber checks the last path segment of a `picture` or `video` link):
/// - picture: the file's own extension when it names the same format (`jpg`/`jpeg`, `png`,
///   `gif`, any case), else `jpeg`, `png` or `gif` for the content type;
/// - video: `mp4`;
/// - file: the file's own extension, else one for its content type; empty only for a file that
///   [`media_kind`] refuses (no extension at all).
pub fn extension_for<'a>(kind: MediaKind, content_type: &str, file_name: &'a str) -> &'a str {
    let own = extension(clean_name(file_name));
    let essence = essence(content_type, file_name);
    match kind {
        MediaKind::Picture => {
            let wanted = picture_extension(&essence).unwrap_or("jpeg");
            let same_format = |ext: &&str| {
                let ext = ext.to_ascii_lowercase();
                ext == wanted || (wanted == "jpeg" && ext == "jpg")
            };
            own.filter(same_format).unwrap_or(wanted)
        }
        MediaKind::Video => "mp4",
        MediaKind::File => own.or_else(|| extension_for_content_type(&essence)).unwrap_or(""),
    }
}

/// The file name to use as the last path segment of an attachment's blob key, so that its
/// presigned URL satisfies Viber's extension rule: the name with its extension replaced by (or,
/// if it has none, followed by) [`extension_for`], lowercase — `Scan 1.HEIC` sent as a JPEG
/// picture becomes `Scan 1.jpeg`, `clip.MP4` becomes `clip.mp4`, `report` (PDF) `report.pdf`.
/// Pass it through [`attachment_key`], which makes the rest of the name safe and
/// keeps this extension.
pub fn media_key_name(kind: MediaKind, content_type: &str, file_name: &str) -> String {
    let name = clean_name(file_name);
    let stem = match extension(name) {
        Some(ext) => &name[..name.len() - ext.len() - 1],
        None => name,
    };
    let stem = if stem.is_empty() { "file" } else { stem };
    match extension_for(kind, content_type, file_name) {
        "" => stem.to_owned(),
        ext => format!("{stem}.{}", ext.to_ascii_lowercase()),
    }
}

/// Whether a media link's last path segment ends with an extension Viber accepts for `kind`.
pub(crate) fn link_fits(kind: MediaKind, url: &str) -> bool {
    let Some(name) = url_file_name(url) else {
        return false;
    };
    let ext = extension(&name).map(str::to_ascii_lowercase);
    match kind {
        MediaKind::Picture => ext.is_some_and(|e| PICTURE_URL_EXTENSIONS.contains(&e.as_str())),
        MediaKind::Video => ext.as_deref() == Some("mp4"),
        MediaKind::File => true,
    }
}

// ---- Names, extensions, content types and keys, inbound and outbound ----

/// The object key of an attachment: `attachments/{id}/{file name made safe}`. The name keeps
/// its extension (lowercased), since Viber checks the extension of a media link's last path
/// segment; `fallback_extension` is used when the name has none.
pub fn attachment_key(id: &AttachmentId, file_name: &str, fallback_extension: Option<&str>) -> String {
    let mut name = safe_key_name(file_name);
    if extension(&name).is_none()
        && let Some(ext) = fallback_extension
            .map(str::to_ascii_lowercase)
            .filter(|e| valid_extension(e))
    {
        name = format!("{name}.{ext}");
    }
    format!("attachments/{id}/{name}")
}

/// Letters and digits of any script, `.`, `-`, `_`; anything else (spaces, slashes, `%`, `?`,
/// control characters) becomes `_`. At most 100 characters before the extension; never empty,
/// never starting with a dot.
fn safe_key_name(file_name: &str) -> String {
    let (stem, ext) = match extension(file_name) {
        Some(ext) => (
            &file_name[..file_name.len() - ext.len() - 1],
            Some(ext.to_ascii_lowercase()),
        ),
        None => (file_name, None),
    };
    let mut safe = String::new();
    for c in stem.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let mut safe: String = safe.trim_matches(|c| c == '.' || c == '_').chars().take(100).collect();
    if safe.is_empty() {
        safe.push_str("file");
    }
    match ext {
        Some(ext) => format!("{safe}.{ext}"),
        None => safe,
    }
}

/// The extension of a file name (without the dot): 1 to 16 ASCII letters or digits after the
/// last dot, with something before it.
pub fn extension(file_name: &str) -> Option<&str> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && valid_extension(ext)).then_some(ext)
}

fn valid_extension(ext: &str) -> bool {
    (1..=16).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The name a file is shown and offered under: Viber's `file_name` if it sent a real one (it
/// once sent the string `"null"`), else the last path segment of the media link, else
/// `{fallback_stem}` with an extension for `content_type`. Path parts and control characters are
/// dropped; at most 255 characters, keeping the extension.
pub fn display_file_name(
    declared: Option<&str>,
    media_url: &str,
    fallback_stem: &str,
    content_type: Option<&str>,
) -> String {
    let clean = |name: &str| -> Option<String> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        let name = name.trim();
        (!name.is_empty() && !name.eq_ignore_ascii_case("null") && name != "." && name != "..")
            .then(|| shorten(name, 255))
    };
    declared
        .and_then(clean)
        .or_else(|| url_file_name(media_url).and_then(|name| clean(&name)))
        .unwrap_or_else(|| match content_type.and_then(extension_for_content_type) {
            Some(ext) => format!("{fallback_stem}.{ext}"),
            None => fallback_stem.to_owned(),
        })
}

fn shorten(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        return name.to_owned();
    }
    match extension(name) {
        Some(ext) => {
            let stem: String = name.chars().take(max_chars - ext.len() - 1).collect();
            format!("{stem}.{ext}")
        }
        None => name.chars().take(max_chars).collect(),
    }
}

/// The decoded last path segment of a URL, if it has one.
pub fn url_file_name(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let segment = url.path_segments()?.next_back()?.to_owned();
    let decoded = urlencoding::decode(&segment).map(|s| s.into_owned()).unwrap_or(segment);
    (!decoded.is_empty()).then_some(decoded)
}

/// Whether a `Content-Type` says nothing about the content (so the extension should decide).
pub fn is_generic_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.is_empty()
        || essence.eq_ignore_ascii_case("application/octet-stream")
        || essence.eq_ignore_ascii_case("binary/octet-stream")
        || essence.eq_ignore_ascii_case("application/unknown")
}

const TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("svg", "image/svg+xml"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("3gp", "video/3gpp"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("mkv", "video/x-matroska"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("rtf", "application/rtf"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("zip", "application/zip"),
    ("rar", "application/vnd.rar"),
    ("7z", "application/x-7z-compressed"),
    ("gz", "application/gzip"),
];

/// The content type for a file name's extension; `application/octet-stream` when unknown.
pub fn guess_content_type(file_name: &str) -> &'static str {
    extension(file_name)
        .and_then(|ext| TYPES.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)))
        .map_or("application/octet-stream", |(_, t)| t)
}

/// The usual extension for a content type, if it is a common one.
pub fn extension_for_content_type(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    TYPES
        .iter()
        .find(|(_, t)| t.eq_ignore_ascii_case(essence))
        .map(|(e, _)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viber::reply::viber_len;

    #[test]
    fn pictures_are_jpeg_png_and_small_gif() {
        assert_eq!(media_kind("image/jpeg", "label.jpg", 250_000), Ok(MediaKind::Picture));
        assert_eq!(
            media_kind("image/png", "scan.png", PICTURE_MAX_BYTES),
            Ok(MediaKind::Picture)
        );
        assert_eq!(media_kind("IMAGE/PNG; q=1", "scan", 1000), Ok(MediaKind::Picture));
        assert_eq!(media_kind("image/jpg", "x.jpeg", 1000), Ok(MediaKind::Picture));
        assert_eq!(
            media_kind("image/gif", "logo.gif", GIF_PICTURE_MAX_BYTES),
            Ok(MediaKind::Picture)
        );
    }

    #[test]
    fn pictures_over_their_limit_and_other_images_are_files() {
        assert_eq!(
            media_kind("image/jpeg", "photo.jpg", PICTURE_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(
            media_kind("image/gif", "dance.gif", GIF_PICTURE_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(media_kind("image/webp", "sticker.webp", 10_000), Ok(MediaKind::File));
        assert_eq!(media_kind("image/heic", "IMG_0001.HEIC", 10_000), Ok(MediaKind::File));
    }

    #[test]
    fn videos_are_mp4_up_to_26_mb() {
        assert_eq!(media_kind("video/mp4", "unboxing.mp4", 8_388_608), Ok(MediaKind::Video));
        assert_eq!(
            media_kind("video/mp4", "unboxing.mp4", VIDEO_MAX_BYTES),
            Ok(MediaKind::Video)
        );
        assert_eq!(
            media_kind("video/mp4", "long.mp4", VIDEO_MAX_BYTES + 1),
            Ok(MediaKind::File)
        );
        assert_eq!(media_kind("video/quicktime", "clip.mov", 1000), Ok(MediaKind::File));
    }

    #[test]
    fn a_generic_content_type_is_read_from_the_name() {
        assert_eq!(
            media_kind("application/octet-stream", "photo.JPG", 1000),
            Ok(MediaKind::Picture)
        );
        assert_eq!(media_kind("", "clip.mp4", 1000), Ok(MediaKind::Video));
        assert_eq!(
            media_kind("application/octet-stream", "data.csv", 1000),
            Ok(MediaKind::File)
        );
    }

    #[test]
    fn files_are_limited_to_50_mb() {
        assert_eq!(
            media_kind("application/pdf", "big.pdf", FILE_MAX_BYTES),
            Ok(MediaKind::File)
        );
        assert_eq!(
            media_kind("application/pdf", "big.pdf", FILE_MAX_BYTES + 1),
            Err(ReplyError::TooLarge {
                file_name: "big.pdf".into(),
                size: FILE_MAX_BYTES + 1,
                limit: FILE_MAX_BYTES
            })
        );
        assert!(media_kind("video/mp4", "huge.mp4", 60 * MB).is_err());
    }

    #[test]
    fn every_forbidden_extension_is_refused_in_any_case() {
        for ext in FORBIDDEN_EXTENSIONS {
            for name in [format!("setup.{ext}"), format!("SETUP.{}", ext.to_uppercase())] {
                assert_eq!(
                    media_kind("application/octet-stream", &name, 1000),
                    Err(ReplyError::ForbiddenExtension {
                        file_name: name.clone(),
                        extension: ext.to_string()
                    })
                );
            }
        }
        assert_eq!(FORBIDDEN_EXTENSIONS.len(), 44);
    }

    #[test]
    fn forbidden_extensions_cannot_hide() {
        // Trailing dots and spaces are dropped by Windows; a picture type does not make an .exe safe.
        assert!(matches!(
            media_kind("application/pdf", "setup.exe. ", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        assert!(matches!(
            media_kind("image/jpeg", "photo.exe", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        // Only the last extension counts, as for Viber.
        assert_eq!(
            media_kind("application/pdf", "setup.exe.pdf", 1000),
            Ok(MediaKind::File)
        );
        // Extensions that merely start like a forbidden one are fine.
        assert_eq!(
            media_kind("application/octet-stream", "notes.batch", 1000),
            Ok(MediaKind::File)
        );
    }

    #[test]
    fn a_file_needs_an_extension_its_type_can_supply() {
        assert_eq!(media_kind("application/pdf", "report", 1000), Ok(MediaKind::File));
        assert_eq!(
            media_kind("application/octet-stream", "README", 1000),
            Err(ReplyError::MissingExtension {
                file_name: "README".into()
            })
        );
        // A picture needs none: its link gets one.
        assert_eq!(media_kind("image/png", "screenshot", 1000), Ok(MediaKind::Picture));
    }

    #[test]
    fn empty_files_are_refused() {
        assert_eq!(
            media_kind("application/pdf", "a.pdf", 0),
            Err(ReplyError::EmptyFile {
                file_name: "a.pdf".into()
            })
        );
    }

    #[test]
    fn upload_check_refuses_what_can_never_be_sent() {
        assert_eq!(check_upload("return-form.pdf", "application/pdf", 183_912), Ok(()));
        assert_eq!(check_upload("photo.jpg", "image/jpeg", 5 * MB), Ok(()));
        assert_eq!(check_upload("film.mp4", "video/mp4", 40 * MB), Ok(()));
        assert!(matches!(
            check_upload("film.mp4", "video/mp4", 51 * MB),
            Err(ReplyError::TooLarge { .. })
        ));
        assert!(matches!(
            check_upload("app.apk", "application/vnd.android.package-archive", 1000),
            Err(ReplyError::ForbiddenExtension { .. })
        ));
        assert!(matches!(
            check_upload("noext", "application/octet-stream", 10),
            Err(ReplyError::MissingExtension { .. })
        ));
    }
    #[test]
    fn file_names_get_an_extension_and_fit_256_characters() {
        assert_eq!(
            viber_file_name(" return-form.pdf ", "application/pdf").unwrap(),
            "return-form.pdf"
        );
        assert_eq!(viber_file_name("Рахунок", "application/pdf").unwrap(), "Рахунок.pdf");
        assert_eq!(viber_file_name("", "application/pdf").unwrap(), "file.pdf");
        let long = format!("{}.docx", "д".repeat(300));
        let short = viber_file_name(&long, "").unwrap();
        assert_eq!(short.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(short.ends_with("д.docx"));
        let emoji = format!("{}.pdf", "📄".repeat(200));
        assert!(viber_len(&viber_file_name(&emoji, "").unwrap()) <= FILE_NAME_MAX_CHARS);
    }

    #[test]
    fn the_link_extension_follows_the_kind() {
        use MediaKind::*;
        assert_eq!(extension_for(Picture, "image/jpeg", "label.JPG"), "JPG");
        assert_eq!(extension_for(Picture, "image/jpeg", "label.jpeg"), "jpeg");
        assert_eq!(extension_for(Picture, "image/jpeg", "scan.heic"), "jpeg");
        assert_eq!(extension_for(Picture, "image/png", "shot.jpg"), "png");
        assert_eq!(extension_for(Picture, "image/gif", "logo"), "gif");
        assert_eq!(extension_for(Picture, "", "photo.png"), "png");
        assert_eq!(extension_for(Video, "video/mp4", "clip.m4v"), "mp4");
        assert_eq!(extension_for(File, "application/pdf", "form.PDF"), "PDF");
        assert_eq!(extension_for(File, "application/pdf", "form"), "pdf");
        assert_eq!(extension_for(File, "application/x-unknown", "form"), "");
    }

    #[test]
    fn key_names_end_with_what_viber_checks() {
        use MediaKind::*;
        assert_eq!(media_key_name(Picture, "image/jpeg", "Label.JPG"), "Label.jpg");
        assert_eq!(media_key_name(Picture, "image/jpeg", "Скан 1.HEIC"), "Скан 1.jpeg");
        assert_eq!(media_key_name(Picture, "image/png", "screenshot"), "screenshot.png");
        assert_eq!(media_key_name(Video, "video/mp4", "clip.MP4"), "clip.mp4");
        assert_eq!(media_key_name(Video, "video/mp4", "clip"), "clip.mp4");
        assert_eq!(media_key_name(File, "application/pdf", "Form.PDF"), "Form.pdf");
        assert_eq!(media_key_name(File, "application/pdf", "form"), "form.pdf");
        assert_eq!(media_key_name(Picture, "image/png", ".png"), ".png.png");
    }

    #[test]
    fn key_names_survive_attachment_key_and_pass_the_link_check() {
        let id = AttachmentId::parse("a1").unwrap();
        let cases = [
            ("image/jpeg", "Скан 1.HEIC", 1000, MediaKind::Picture),
            ("image/png", "", 1000, MediaKind::Picture),
            ("image/gif", "anim?.gif", 1000, MediaKind::Picture),
            ("video/mp4", "my clip.MOV", 1000, MediaKind::Video),
            ("application/pdf", "Рахунок №5", 1000, MediaKind::File),
        ];
        for (content_type, file_name, size, expected) in cases {
            let kind = media_kind(content_type, file_name, size).unwrap();
            assert_eq!(kind, expected);
            let key = attachment_key(&id, &media_key_name(kind, content_type, file_name), None);
            let url = format!("https://bucket.s3.eu-central-1.amazonaws.com/{key}?X-Amz-Signature=abc");
            assert!(link_fits(kind, &url), "{url}");
        }
    }

    #[test]
    fn links_are_checked_on_their_last_path_segment() {
        assert!(link_fits(MediaKind::Picture, "https://x/a/label.jpg?Expires=1"));
        assert!(link_fits(MediaKind::Picture, "https://x/a/label.JPEG"));
        assert!(!link_fits(MediaKind::Picture, "https://x/a/label.jpg/download"));
        assert!(!link_fits(MediaKind::Picture, "https://x/a/label.webp"));
        assert!(link_fits(MediaKind::Video, "https://x/a/v.mp4"));
        assert!(!link_fits(MediaKind::Video, "https://x/a/v.mov"));
        assert!(link_fits(MediaKind::File, "https://x/a/anything"));
    }

    #[test]
    fn keys_keep_the_extension_and_drop_what_is_unsafe() {
        let id = AttachmentId::parse("a1").unwrap();
        assert_eq!(attachment_key(&id, "photo.JPG", None), "attachments/a1/photo.jpg");
        assert_eq!(
            attachment_key(&id, "Рахунок_48213.pdf", None),
            "attachments/a1/Рахунок_48213.pdf"
        );
        assert_eq!(
            attachment_key(&id, "my scan (1)?#%.pdf", None),
            "attachments/a1/my_scan_1.pdf"
        );
        assert_eq!(
            attachment_key(&id, "../../etc/passwd", None),
            "attachments/a1/etc_passwd"
        );
        assert_eq!(attachment_key(&id, ".pdf", None), "attachments/a1/pdf");
        assert_eq!(attachment_key(&id, "...", None), "attachments/a1/file");
        assert_eq!(attachment_key(&id, "notes", Some("TXT")), "attachments/a1/notes.txt");
        assert_eq!(attachment_key(&id, "notes", Some("t/x")), "attachments/a1/notes");
        let long = format!("{}.mp4", "я".repeat(300));
        let key = attachment_key(&id, &long, None);
        assert!(key.ends_with(".mp4") && key.chars().count() < 130, "{key}");
    }

    #[test]
    fn display_names_come_from_viber_then_the_link_then_the_type() {
        let url = "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/7c1e/3f9a.jpg?Expires=1&Signature=x";
        assert_eq!(display_file_name(Some("Рахунок.pdf"), url, "file", None), "Рахунок.pdf");
        assert_eq!(display_file_name(Some("null"), url, "picture", None), "3f9a.jpg");
        assert_eq!(display_file_name(Some("  "), url, "picture", None), "3f9a.jpg");
        assert_eq!(
            display_file_name(Some("C:\\Users\\o\\scan.pdf"), url, "file", None),
            "scan.pdf"
        );
        assert_eq!(
            display_file_name(None, "https://x.test/media%20file.png", "picture", None),
            "media file.png"
        );
        assert_eq!(
            display_file_name(None, "https://x.test/", "picture", Some("image/jpeg")),
            "picture.jpg"
        );
        assert_eq!(display_file_name(None, "https://x.test/", "video", None), "video");
    }

    #[test]
    fn content_types_from_extensions_and_back() {
        assert_eq!(guess_content_type("a.JPG"), "image/jpeg");
        assert_eq!(guess_content_type("Рахунок.pdf"), "application/pdf");
        assert_eq!(guess_content_type("clip.mp4"), "video/mp4");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
        assert_eq!(extension_for_content_type("image/png; q=1"), Some("png"));
        assert_eq!(extension_for_content_type("application/x-unknown"), None);
        assert!(is_generic_content_type("binary/octet-stream"));
        assert!(is_generic_content_type("application/octet-stream; charset=binary"));
        assert!(!is_generic_content_type("image/jpeg"));
    }
}
