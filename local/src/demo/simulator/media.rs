//! The simulator's media: the files simulated clients send, served under signed links that expire
//! after an hour like Viber's (`?Expires=…&Signature=…&Key-Pair-Id=…`, the shape the processor
//! reads), and the phone's copies of the files staff send. Memory is bounded: entries and bytes
//! are capped (oldest evicted first) and expired files are dropped.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::signing::{keyed_hex, same_signature};

/// How long a link to a client's file stays valid, as Viber's do.
pub const LINK_SECONDS: i64 = 3600;
/// A client's file is kept a little longer than its link, then dropped.
const KEEP_AFTER_EXPIRY_MILLIS: i64 = 60 * 1000;
/// Every file the simulator holds, together.
pub const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;
/// The most files it holds.
pub const MAX_ENTRIES: usize = 50_000;
/// The largest single file (Viber's file limit).
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// The path media links start with, after the base URL.
pub const MEDIA_PATH: &str = "/simulator/media/";
/// What Viber's links carry as `Key-Pair-Id`; the simulator's say where they come from.
const KEY_PAIR_ID: &str = "VIBERDESK-SIMULATOR";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Bytes,
    /// When the file is dropped (`None`: only when memory is needed).
    pub drop_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreRefused {
    #[error("the file is larger than {} MB", MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge,
}

/// The files, by id. Every client file lives as long, so files expire in the order they came.
#[derive(Debug, Default)]
pub struct MediaStore {
    files: HashMap<u64, StoredFile>,
    /// Ids, oldest first (some may be gone already): evicted from the front when memory is needed.
    order: VecDeque<u64>,
    /// Client files with their drop time, in that order.
    expiring: VecDeque<(i64, u64)>,
    total_bytes: usize,
    next_id: u64,
}

impl MediaStore {
    /// Keeps a file; `expires` for a client's file (dropped after its link expires), `false` for
    /// the phone's copy of a staff file. Older files go when the caps need room.
    pub fn insert(
        &mut self,
        file_name: &str,
        content_type: &str,
        bytes: Bytes,
        now: i64,
        expires: bool,
    ) -> Result<u64, StoreRefused> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(StoreRefused::TooLarge);
        }
        self.drop_expired(now);
        while !self.files.is_empty()
            && (self.files.len() >= MAX_ENTRIES || self.total_bytes + bytes.len() > MAX_TOTAL_BYTES)
        {
            match self.order.pop_front() {
                Some(oldest) => self.remove(oldest),
                None => break,
            }
        }
        self.next_id += 1;
        let id = self.next_id;
        self.total_bytes += bytes.len();
        let drop_at = expires.then_some(now + LINK_SECONDS * 1000 + KEEP_AFTER_EXPIRY_MILLIS);
        self.files.insert(
            id,
            StoredFile {
                file_name: file_name.to_owned(),
                content_type: content_type.to_owned(),
                bytes,
                drop_at,
            },
        );
        self.order.push_back(id);
        if let Some(at) = drop_at {
            self.expiring.push_back((at, id));
        }
        // Ids of files that expired stay in `order` until evicted: compact now and then.
        if self.order.len() > 2 * self.files.len() + 64 {
            let files = &self.files;
            self.order.retain(|id| files.contains_key(id));
        }
        Ok(id)
    }

    pub fn get(&self, id: u64, now: i64) -> Option<&StoredFile> {
        self.files
            .get(&id)
            .filter(|file| file.drop_at.is_none_or(|at| at > now))
    }

    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn remove(&mut self, id: u64) {
        if let Some(file) = self.files.remove(&id) {
            self.total_bytes -= file.bytes.len();
        }
    }

    fn drop_expired(&mut self, now: i64) {
        while let Some(&(at, id)) = self.expiring.front() {
            if at > now {
                break;
            }
            self.expiring.pop_front();
            self.remove(id);
        }
        // Evicted client files leave their entry in `expiring` behind: keep it bounded too.
        if self.expiring.len() > 2 * self.files.len() + 64 {
            let files = &self.files;
            self.expiring.retain(|(_, id)| files.contains_key(id));
        }
    }
}

/// Why a media link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature is not valid")]
    BadSignature,
}

impl LinkRefused {
    /// What CloudFront answers: 403 for both.
    pub fn status(self) -> u16 {
        403
    }
}

/// Signs and checks media links with a key known only to this process.
#[derive(Clone)]
pub struct MediaLinks {
    key: Vec<u8>,
    base_url: String,
}

impl MediaLinks {
    pub fn new(key: &[u8], base_url: &str) -> Self {
        Self {
            key: key.to_vec(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn signature(&self, id: u64, file_name: &str, expires: i64) -> String {
        keyed_hex(
            &self.key,
            &[
                id.to_string().as_bytes(),
                file_name.as_bytes(),
                expires.to_string().as_bytes(),
            ],
        )
    }

    /// `{base}/simulator/media/{id}/{file name}?Expires={unix s}&Signature=…&Key-Pair-Id=…`.
    pub fn link(&self, id: u64, file_name: &str, now_millis: i64) -> String {
        let expires = now_millis.div_euclid(1000) + LINK_SECONDS;
        format!(
            "{}{MEDIA_PATH}{id}/{}?Expires={expires}&Signature={}&Key-Pair-Id={KEY_PAIR_ID}",
            self.base_url,
            urlencoding::encode(file_name),
            self.signature(id, file_name, expires)
        )
    }

    /// Checks a link's query (`Expires`, `Signature`) for the file `id` named `file_name`.
    pub fn check(&self, id: u64, file_name: &str, query: &str, now_millis: i64) -> Result<(), LinkRefused> {
        let mut expires = None;
        let mut signature = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("Expires", value)) => expires = value.parse::<i64>().ok(),
                Some(("Signature", value)) => signature = Some(value),
                _ => {}
            }
        }
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(LinkRefused::BadSignature);
        };
        if !same_signature(&self.signature(id, file_name, expires), signature) {
            return Err(LinkRefused::BadSignature);
        }
        if expires < now_millis.div_euclid(1000) {
            return Err(LinkRefused::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_732_529_012_480;

    fn parts(link: &str) -> (u64, String, String) {
        let rest = link.strip_prefix("http://127.0.0.1:3000/simulator/media/").unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        let (id, name) = path.split_once('/').unwrap();
        (
            id.parse().unwrap(),
            urlencoding::decode(name).unwrap().into_owned(),
            query.to_owned(),
        )
    }

    #[test]
    fn links_look_like_viber_s_and_expire_after_an_hour() {
        let links = MediaLinks::new(b"key", "http://127.0.0.1:3000/");
        let link = links.link(7, "Рахунок 48213.pdf", NOW);
        let (id, name, query) = parts(&link);
        assert_eq!((id, name.as_str()), (7, "Рахунок 48213.pdf"));
        let url = reqwest::Url::parse(&link).unwrap();
        assert_eq!(
            shared::viber::attachments::url_file_name(&link).as_deref(),
            Some("Рахунок 48213.pdf")
        );
        assert!(!shared::media::link_expired(
            &url,
            shared::time::Timestamp::from_millis(NOW)
        ));
        assert!(shared::media::link_expired(
            &url,
            shared::time::Timestamp::from_millis(NOW + 3700 * 1000)
        ));

        assert_eq!(links.check(id, &name, &query, NOW), Ok(()));
        assert_eq!(links.check(id, &name, &query, NOW + 3599 * 1000), Ok(()));
        assert_eq!(
            links.check(id, &name, &query, NOW + 3601 * 1000),
            Err(LinkRefused::Expired)
        );
    }

    #[test]
    fn a_link_cannot_be_moved_to_another_file_or_extended() {
        let links = MediaLinks::new(b"key", "http://127.0.0.1:3000");
        let (id, name, query) = parts(&links.link(7, "a.jpg", NOW));
        assert_eq!(links.check(8, &name, &query, NOW), Err(LinkRefused::BadSignature));
        assert_eq!(links.check(id, "b.jpg", &query, NOW), Err(LinkRefused::BadSignature));
        let later = query.replace("Expires=", "Expires=9");
        assert_eq!(links.check(id, &name, &later, NOW), Err(LinkRefused::BadSignature));
        assert_eq!(links.check(id, &name, "", NOW), Err(LinkRefused::BadSignature));
        let other_key = MediaLinks::new(b"other", "http://127.0.0.1:3000");
        assert_eq!(other_key.check(id, &name, &query, NOW), Err(LinkRefused::BadSignature));
    }

    #[test]
    fn client_files_are_dropped_after_their_link_expires_and_copies_are_kept() {
        let mut store = MediaStore::default();
        let sent = store
            .insert("a.jpg", "image/jpeg", Bytes::from_static(b"jpeg"), NOW, true)
            .unwrap();
        let copy = store
            .insert("b.pdf", "application/pdf", Bytes::from_static(b"pdf"), NOW, false)
            .unwrap();
        assert!(store.get(sent, NOW + 3600 * 1000).is_some());
        let later = NOW + 3600 * 1000 + KEEP_AFTER_EXPIRY_MILLIS + 1;
        assert!(store.get(sent, later).is_none());
        assert!(store.get(copy, later).is_some());
        store
            .insert("c.txt", "text/plain", Bytes::from_static(b"c"), later, true)
            .unwrap();
        assert_eq!(store.len(), 2, "the expired file was dropped");
        assert_eq!(store.total_bytes(), 4);
    }

    #[test]
    fn memory_stays_under_the_caps() {
        let mut store = MediaStore::default();
        let big = Bytes::from(vec![0u8; MAX_FILE_BYTES]);
        assert_eq!(
            store.insert("x", "a/b", Bytes::from(vec![0u8; MAX_FILE_BYTES + 1]), NOW, true),
            Err(StoreRefused::TooLarge)
        );
        let first = store.insert("1", "a/b", big.clone(), NOW, false).unwrap();
        for _ in 0..(MAX_TOTAL_BYTES / MAX_FILE_BYTES) {
            store.insert("n", "a/b", big.clone(), NOW, false).unwrap();
        }
        assert!(store.total_bytes() <= MAX_TOTAL_BYTES);
        assert!(store.get(first, NOW).is_none(), "the oldest went first");
        let mut small = MediaStore::default();
        for i in 0..MAX_ENTRIES as i64 + 10 {
            small
                .insert("s", "a/b", Bytes::from_static(b"s"), NOW + i, i % 2 == 0)
                .unwrap();
        }
        assert_eq!(small.len(), MAX_ENTRIES);
        assert!(small.order.len() <= 2 * MAX_ENTRIES + 64 && small.expiring.len() <= 2 * MAX_ENTRIES + 64);
        // An hour later every client file is gone, and the bookkeeping with it.
        small
            .insert("s", "a/b", Bytes::from_static(b"s"), NOW + 2 * 3600 * 1000, false)
            .unwrap();
        assert_eq!(small.len(), MAX_ENTRIES / 2 + 1);
        assert!(small.expiring.is_empty());
    }
}
