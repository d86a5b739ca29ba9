//! Pictures the simulator makes itself, so the demo loads nothing from another origin: avatars
//! (SVG with initials), stickers and sample photos (small PNGs), and the sample files of seeded
//! conversations (a one-page PDF, a tiny MP4 header).

/// Colours of avatars and pictures (white text is readable on each).
const PALETTE: [[u8; 3]; 8] = [
    [0x7b, 0x51, 0x9d],
    [0x1f, 0x7a, 0x8c],
    [0xc0, 0x39, 0x2b],
    [0x2e, 0x86, 0x4b],
    [0xd3, 0x54, 0x00],
    [0x34, 0x49, 0x5e],
    [0x8e, 0x44, 0xad],
    [0x16, 0x7a, 0xb8],
];

pub fn colour(index: usize) -> [u8; 3] {
    PALETTE[index % PALETTE.len()]
}

/// A stable colour index for a name.
pub fn colour_of(name: &str) -> usize {
    name.bytes()
        .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        % PALETTE.len()
}

/// Up to two initials, upper-cased (`?` for an empty name).
pub fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() { "?".to_owned() } else { letters }
}

fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A round avatar with the name's initials.
pub fn avatar_svg(name: &str, colour_index: usize) -> String {
    let [r, g, b] = colour(colour_index);
    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">"##,
            r##"<circle cx="48" cy="48" r="48" fill="#{:02x}{:02x}{:02x}"/>"##,
            r##"<text x="48" y="61" font-family="sans-serif" font-size="36" font-weight="600" fill="#fff" text-anchor="middle">{}</text>"##,
            "</svg>"
        ),
        r,
        g,
        b,
        xml_escape(&initials(name))
    )
}

/// The stickers a simulated client can send: Viber sticker ids and what they show.
pub const STICKERS: &[(u64, &str)] = &[
    (40133, "smile"),
    (40129, "wink"),
    (40131, "surprise"),
    (40132, "sad"),
    (40134, "love"),
    (40135, "laugh"),
];

/// A sticker: a round face whose colour and mouth depend on the sticker id.
pub fn sticker_png(sticker_id: u64) -> Vec<u8> {
    const SIZE: u32 = 96;
    let position = STICKERS.iter().position(|(id, _)| *id == sticker_id).unwrap_or(0);
    let face = [
        [0xf7, 0xc5, 0x2b],
        [0xf3, 0x9c, 0x12],
        [0x5d, 0xad, 0xe2],
        [0x95, 0xa5, 0xa6],
        [0xe9, 0x1e, 0x63],
        [0x2e, 0xcc, 0x71],
    ][position % 6];
    let smiling = position != 3;
    let wide_open = position == 2;
    png(SIZE, SIZE, |x, y| {
        let (fx, fy) = (x as f32 - 47.5, y as f32 - 47.5);
        let r = (fx * fx + fy * fy).sqrt();
        if r > 44.0 {
            return [255, 255, 255, 0];
        }
        let eye = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 36.0).powi(2)).sqrt() < 6.0;
        let winking = position == 1 && x > 48 && (y as f32 - 36.0).abs() < 2.0 && (x as f32 - 62.0).abs() < 8.0;
        if (eye(34.0) || (eye(62.0) && position != 1)) || winking {
            return [0x33, 0x22, 0x11, 255];
        }
        let mouth = if wide_open {
            ((fx).powi(2) + (y as f32 - 66.0).powi(2)).sqrt() < 9.0
        } else {
            let curve = if smiling {
                56.0 + (fx * fx) / -60.0 + 14.0
            } else {
                70.0 + (fx * fx) / 60.0 - 6.0
            };
            fx.abs() < 20.0 && (y as f32 - curve).abs() < 2.5
        };
        if mouth {
            return [0x33, 0x22, 0x11, 255];
        }
        if r > 42.0 {
            return [0x33, 0x22, 0x11, 255];
        }
        [face[0], face[1], face[2], 255]
    })
}

/// The thumbnail of a client's video: a play sign.
pub fn video_thumbnail_png() -> Vec<u8> {
    png(96, 64, |x, y| {
        let (x, y) = (x as i32, y as i32);
        let inside = (38..=62).contains(&x) && (y - 32).abs() <= (62 - x) / 2;
        if inside {
            [255, 255, 255, 255]
        } else {
            [0x26, 0x32, 0x38, 255]
        }
    })
}

/// A small landscape "photo" in the given colour, for seeded picture messages.
pub fn sample_photo(colour_index: usize) -> Vec<u8> {
    let [r, g, b] = colour(colour_index);
    png(64, 48, |x, y| {
        if y > 30 + (x % 16).abs_diff(8) {
            return [0x2e, 0x7d, 0x32, 255];
        }
        let sun = ((x as i32 - 48).pow(2) + (y as i32 - 12).pow(2)) < 36;
        if sun {
            return [0xff, 0xd5, 0x4f, 255];
        }
        let fade = |c: u8| c.saturating_add((y * 3) as u8);
        [fade(r), fade(g), fade(b), 255]
    })
}

/// An RGBA PNG, written with uncompressed ("stored") deflate blocks: no compressor needed.
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width * 4 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]); // 8 bits, RGBA, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A one-page PDF showing `title` and `line` (ASCII; anything else becomes `?`).
pub fn sample_pdf(title: &str, line: &str) -> Vec<u8> {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => ' ',
                c if c.is_ascii() && !c.is_ascii_control() => c,
                _ => '?',
            })
            .collect()
    };
    let stream = format!(
        "BT /F1 20 Tf 60 760 Td ({}) Tj /F1 12 Tf 0 -30 Td ({}) Tj ET",
        clean(title),
        clean(line)
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The start of an MP4 file (an `ftyp` box and an empty `mdat`): enough for a file to be
/// recognised as a video in seeded conversations, not to play.
pub fn sample_video_header() -> Vec<u8> {
    let mut mp4 = Vec::with_capacity(40);
    mp4.extend_from_slice(&24u32.to_be_bytes());
    mp4.extend_from_slice(b"ftypisom");
    mp4.extend_from_slice(&0x200u32.to_be_bytes());
    mp4.extend_from_slice(b"isommp41");
    mp4.extend_from_slice(&8u32.to_be_bytes());
    mp4.extend_from_slice(b"mdat");
    mp4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_two_words_of_any_script() {
        assert_eq!(initials("Олена Коваленко"), "ОК");
        assert_eq!(initials("anna maria van der berg"), "AM");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("\"Bob\""), "B");
    }

    #[test]
    fn avatars_escape_the_name() {
        let svg = avatar_svg("<script>alert(1)</script> &x", 2);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(xml_escape("<a&\"'>\u{7}"), "&lt;a&amp;&quot;&#39;&gt;");
    }

    #[test]
    fn pngs_are_well_formed() {
        let image = png(3, 2, |x, y| [x as u8, y as u8, 0, 255]);
        assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"));
        // IHDR: length 13, then the type and the dimensions.
        assert_eq!(&image[8..16], b"\0\0\0\x0dIHDR");
        assert_eq!(&image[16..24], &[0, 0, 0, 3, 0, 0, 0, 2]);
        // Every chunk's CRC is right.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < image.len() {
            let len = u32::from_be_bytes(image[at..at + 4].try_into().unwrap()) as usize;
            let kind = &image[at + 4..at + 8];
            let crc = u32::from_be_bytes(image[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32(&image[at + 4..at + 8 + len]), crc);
            kinds.push(String::from_utf8(kind.to_vec()).unwrap());
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "the standard check value");
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn large_images_span_several_deflate_blocks() {
        let image = zlib_stored(&vec![7u8; 70_000]);
        assert_eq!(image.len(), 2 + 2 * 5 + 70_000 + 4);
        assert_eq!(image[2], 0, "the first block is not the last");
        assert_eq!(image[2 + 5 + 65_535], 1);
        assert!(!sticker_png(40133).is_empty());
        assert!(sample_photo(3).len() < 16 * 1024, "seeded photos stay small");
    }

    #[test]
    fn the_pdf_has_a_correct_cross_reference_table() {
        let pdf = sample_pdf("Invoice (48213)", "Total: 1 200 грн");
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n"));
        for (i, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(
                text[offset..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {}",
                i + 1
            );
        }
        assert!(text.contains("(Total: 1 200 ???) Tj"));
    }
}
