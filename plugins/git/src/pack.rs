//! Objects inside pack files (`objects/pack/pack-*.pack`), where `git gc`, `git repack` and
//! every clone put them. Each pack has an index (`.idx`, version 2, or the old version 1)
//! mapping sorted object ids to offsets in the pack; an entry there is a type-and-size
//! header then zlib data, either a whole object or a delta against a base object named by
//! offset in the same pack (`OFS_DELTA`) or by id (`REF_DELTA`, possibly in another pack or
//! loose). Files are read with seeks, a few bytes at a time, so a large pack costs no
//! memory beyond the objects actually read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::object::MAX_OBJECT_BYTES;

/// Longest delta chain followed (git's own default `--depth` is 50).
pub const MAX_DELTA_DEPTH: usize = 64;

/// Where an object lives: which pack, at which offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Index into the list of packs.
    pub pack: usize,
    /// Offset of the entry in the `.pack` file.
    pub offset: u64,
}

/// One pack: its index and data files.
#[derive(Debug, Clone)]
pub struct Pack {
    idx: PathBuf,
    pack: PathBuf,
    hash_len: usize,
}

/// An entry read from a pack: a whole object, or a delta to apply to a base.
enum Entry {
    Whole(&'static str, Vec<u8>),
    OfsDelta(u64, Vec<u8>),
    RefDelta(Vec<u8>, Vec<u8>),
}

/// The packs of an `objects` directory, newest name order (as listed).
pub fn list(objects: &Path, hash_len: usize) -> Vec<Pack> {
    let Ok(dir) = std::fs::read_dir(objects.join("pack")) else {
        return Vec::new();
    };
    let mut packs: Vec<Pack> = dir
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
        .map(|idx| Pack {
            pack: idx.with_extension("pack"),
            idx,
            hash_len,
        })
        .filter(|pack| pack.pack.is_file())
        .collect();
    packs.sort_by(|a, b| a.idx.cmp(&b.idx));
    packs
}

impl Pack {
    /// The offset of object `id` (raw bytes) in this pack, if it holds it.
    pub fn find(&self, id: &[u8]) -> Result<Option<u64>, String> {
        let mut file = open(&self.idx)?;
        let mut head = [0u8; 8];
        read_at(&mut file, 0, &mut head, &self.idx)?;
        let v2 = head[..4] == [0xff, b't', b'O', b'c'];
        if v2 && u32::from_be_bytes([head[4], head[5], head[6], head[7]]) != 2 {
            return Err(format!(
                "{}: unsupported pack index version",
                self.idx.display()
            ));
        }
        let fanout_at = if v2 { 8 } else { 0 };
        let mut fanout = vec![0u8; 256 * 4];
        read_at(&mut file, fanout_at, &mut fanout, &self.idx)?;
        let count_before = |byte: usize| -> u32 {
            if byte == 0 {
                0
            } else {
                be32(&fanout[(byte - 1) * 4..byte * 4])
            }
        };
        let first = id.first().copied().unwrap_or(0) as usize;
        let total = be32(&fanout[255 * 4..]) as u64;
        let (mut lo, mut hi) = (
            count_before(first) as u64,
            be32(&fanout[first * 4..]) as u64,
        );
        let names_at = fanout_at + 256 * 4;
        // v1 entries are `offset(4) id`; v2 keeps ids, CRCs and offsets in separate tables.
        let stride = if v2 { self.hash_len } else { 4 + self.hash_len } as u64;
        let name_skip = if v2 { 0 } else { 4 };
        let mut name = vec![0u8; self.hash_len];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            read_at(
                &mut file,
                names_at + mid * stride + name_skip,
                &mut name,
                &self.idx,
            )?;
            match name.as_slice().cmp(id) {
                std::cmp::Ordering::Equal => {
                    return self
                        .offset_of(&mut file, v2, names_at, total, mid)
                        .map(Some);
                }
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    fn offset_of(
        &self,
        file: &mut File,
        v2: bool,
        names_at: u64,
        total: u64,
        n: u64,
    ) -> Result<u64, String> {
        let mut word = [0u8; 4];
        if !v2 {
            read_at(
                file,
                names_at + n * (4 + self.hash_len as u64),
                &mut word,
                &self.idx,
            )?;
            return Ok(u64::from(be32(&word)));
        }
        let offsets_at = names_at + total * self.hash_len as u64 + total * 4;
        read_at(file, offsets_at + n * 4, &mut word, &self.idx)?;
        let small = be32(&word);
        if small & 0x8000_0000 == 0 {
            return Ok(u64::from(small));
        }
        // The large-offset table follows the 4-byte offsets.
        let large = u64::from(small & 0x7fff_ffff);
        let mut long = [0u8; 8];
        read_at(
            file,
            offsets_at + total * 4 + large * 8,
            &mut long,
            &self.idx,
        )?;
        Ok(u64::from_be_bytes(long))
    }

    /// Reads the entry at `offset`: its header and inflated data.
    fn entry(&self, offset: u64) -> Result<Entry, String> {
        let mut file = open(&self.pack)?;
        let len = file
            .metadata()
            .map_err(|err| format!("{}: {err}", self.pack.display()))?
            .len();
        // Header: type in bits 4-6 of the first byte, size in 4 + 7n bits; then for
        // OFS_DELTA a variable-length negative offset, for REF_DELTA the base's id.
        let mut head = [0u8; 64];
        let head_len = (len.saturating_sub(offset) as usize).min(head.len());
        read_at(&mut file, offset, &mut head[..head_len], &self.pack)?;
        let head = &head[..head_len];
        let mut at = 0;
        let byte = |at: usize| -> Result<u8, String> {
            head.get(at)
                .copied()
                .ok_or_else(|| "truncated pack entry header".to_string())
        };
        let mut c = byte(at)?;
        at += 1;
        let kind = (c >> 4) & 7;
        let mut size = u64::from(c & 0x0f);
        let mut shift = 4;
        while c & 0x80 != 0 {
            c = byte(at)?;
            at += 1;
            if shift > 56 {
                return Err("pack entry size overflows".into());
            }
            size |= u64::from(c & 0x7f) << shift;
            shift += 7;
        }
        if size > MAX_OBJECT_BYTES as u64 {
            return Err(format!("pack entry of {size} bytes is too large to read"));
        }
        let base = match kind {
            6 => {
                let mut c = byte(at)?;
                at += 1;
                let mut back = u64::from(c & 0x7f);
                while c & 0x80 != 0 {
                    c = byte(at)?;
                    at += 1;
                    back = ((back + 1) << 7) | u64::from(c & 0x7f);
                }
                let base = offset
                    .checked_sub(back)
                    .ok_or("OFS_DELTA base before the start of the pack")?;
                Some(Base::Offset(base))
            }
            7 => {
                let id = head
                    .get(at..at + self.hash_len)
                    .ok_or("truncated REF_DELTA base id")?
                    .to_vec();
                at += self.hash_len;
                Some(Base::Id(id))
            }
            _ => None,
        };
        // zlib never grows data by more than 5 bytes per 16 KiB block plus its header and
        // checksum: this much input holds the whole stream (inflate stops at its end).
        let bound = size + size / 16_000 * 5 + 64;
        let data_at = offset + at as u64;
        let take = bound.min(len.saturating_sub(data_at)) as usize;
        let mut compressed = vec![0u8; take];
        read_at(&mut file, data_at, &mut compressed, &self.pack)?;
        let data =
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, MAX_OBJECT_BYTES)
                .map_err(|err| format!("cannot inflate pack entry: {:?}", err.status))?;
        if data.len() as u64 != size {
            return Err(format!(
                "pack entry declares {size} bytes but holds {}",
                data.len()
            ));
        }
        Ok(match (kind, base) {
            (1, _) => Entry::Whole("commit", data),
            (2, _) => Entry::Whole("tree", data),
            (3, _) => Entry::Whole("blob", data),
            (4, _) => Entry::Whole("tag", data),
            (6, Some(Base::Offset(base))) => Entry::OfsDelta(base, data),
            (7, Some(Base::Id(id))) => Entry::RefDelta(id, data),
            (kind, _) => return Err(format!("unknown pack entry type {kind}")),
        })
    }
}

enum Base {
    Offset(u64),
    Id(Vec<u8>),
}

/// An object's kind and body.
pub type Object = (String, Vec<u8>);

/// Reads a `REF_DELTA` base by its raw id, at a delta depth.
pub type ReadById<'a> = dyn Fn(&[u8], usize) -> Result<Option<Object>, String> + 'a;

/// Reads the object at `location`, resolving deltas; `by_id` reads a `REF_DELTA` base
/// (from any pack, or loose).
pub fn read(
    packs: &[Pack],
    location: &Location,
    by_id: &ReadById<'_>,
    depth: usize,
) -> Result<Object, String> {
    let pack = packs.get(location.pack).ok_or("no such pack")?;
    // Walk down the chain of same-pack deltas, then apply them from the base up.
    let mut deltas: Vec<Vec<u8>> = Vec::new();
    let mut offset = location.offset;
    let (kind, mut data) = loop {
        if depth + deltas.len() > MAX_DELTA_DEPTH {
            return Err(format!("delta chain longer than {MAX_DELTA_DEPTH}"));
        }
        match pack.entry(offset)? {
            Entry::Whole(kind, data) => break (kind.to_string(), data),
            Entry::OfsDelta(base, delta) => {
                deltas.push(delta);
                offset = base;
            }
            Entry::RefDelta(id, delta) => {
                deltas.push(delta);
                let depth = depth + deltas.len();
                match by_id(&id, depth)? {
                    Some(base) => break base,
                    None => {
                        return Err(format!("delta base {} is missing", crate::object::hex(&id)));
                    }
                }
            }
        }
    };
    for delta in deltas.iter().rev() {
        data = apply_delta(&data, delta)?;
    }
    Ok((kind, data))
}

/// Applies a git delta (source size, target size, then copy and insert instructions).
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut at = 0;
    let varint = |at: &mut usize| -> Result<u64, String> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let c = *delta.get(*at).ok_or("truncated delta header")?;
            *at += 1;
            if shift > 56 {
                return Err("delta size overflows".into());
            }
            value |= u64::from(c & 0x7f) << shift;
            shift += 7;
            if c & 0x80 == 0 {
                return Ok(value);
            }
        }
    };
    let source_len = varint(&mut at)?;
    let target_len = varint(&mut at)?;
    if source_len != base.len() as u64 {
        return Err(format!(
            "delta expects a base of {source_len} bytes, not {}",
            base.len()
        ));
    }
    if target_len > MAX_OBJECT_BYTES as u64 {
        return Err(format!("delta target of {target_len} bytes is too large"));
    }
    let mut out = Vec::with_capacity(target_len as usize);
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            // Copy from the base: offset in up to 4 bytes, size in up to 3, each byte
            // present when its bit is set.
            let mut fields = [0u64; 7];
            for (bit, field) in fields.iter_mut().enumerate() {
                if op & (1 << bit) != 0 {
                    *field = u64::from(*delta.get(at).ok_or("truncated delta copy")?);
                    at += 1;
                }
            }
            let offset = fields[0] | fields[1] << 8 | fields[2] << 16 | fields[3] << 24;
            let mut size = fields[4] | fields[5] << 8 | fields[6] << 16;
            if size == 0 {
                size = 0x10000;
            }
            let end = offset.checked_add(size).ok_or("delta copy overflows")?;
            let piece = base
                .get(offset as usize..end as usize)
                .ok_or("delta copies past the end of its base")?;
            out.extend_from_slice(piece);
        } else if op != 0 {
            let piece = delta
                .get(at..at + op as usize)
                .ok_or("truncated delta insert")?;
            out.extend_from_slice(piece);
            at += op as usize;
        } else {
            return Err("delta holds a reserved instruction".into());
        }
        if out.len() as u64 > target_len {
            return Err("delta result is longer than declared".into());
        }
    }
    if out.len() as u64 != target_len {
        return Err(format!(
            "delta result has {} bytes, not the declared {target_len}",
            out.len()
        ));
    }
    Ok(out)
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|err| format!("cannot open `{}`: {err}", path.display()))
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8], path: &Path) -> Result<(), String> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|err| format!("cannot read `{}` at {offset}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_copy_and_insert_instructions() {
        let base = b"hello, world";
        // source 12, target 11: copy "hello" (offset 0, size 5), then insert ", git!".
        let delta = [
            12,
            11, // sizes
            0x80 | 0x10,
            5, // copy offset 0 size 5
            6,
            b',',
            b' ',
            b'g',
            b'i',
            b't',
            b'!', // insert 6 bytes
        ];
        assert_eq!(apply_delta(base, &delta).expect("applies"), b"hello, git!");
    }

    #[test]
    fn refuses_a_delta_for_another_base_or_running_past_it() {
        assert!(apply_delta(b"abc", &[4, 1, 1, b'x']).is_err());
        assert!(apply_delta(b"abc", &[3, 4, 0x91, 1, 4]).is_err());
        assert!(apply_delta(b"abc", &[3, 1, 0]).is_err());
    }
}
