//! The streaming ops and their bytes: `(arrays read + arrays written) * 4 *
//! n` per dispatch over arrays of `n` f32 elements; dot writes one 16-byte
//! partial sum per invocation instead of an array. FLOPs are not counted
//! (negligible at their intensity, as in BabelStream).

use serde::{Deserialize, Serialize};

/// Invocations per team of `read_blocks` (the shader's `TEAM`).
pub const TEAM: u64 = 8;
/// vec4s each team of `read_blocks` streams where the dispatch can hold a
/// team per block: 64 per invocation, 8 KiB a team.
pub const TEAM_BLOCK: u64 = 64 * TEAM;

/// vec4s a team of `read_blocks` streams over `vec4s` vec4s when at most
/// `max_teams` teams can be dispatched (the workgroups a dimension takes,
/// times the teams a workgroup holds): [`TEAM_BLOCK`], or the next
/// multiple of it that needs no more teams than that (huge arrays, tiny
/// workgroups).
pub fn team_block(vec4s: u64, max_teams: u64) -> u64 {
    let blocks = vec4s.div_ceil(TEAM_BLOCK);
    blocks.div_ceil(max_teams.max(1)) * TEAM_BLOCK
}

/// Invocations `read_blocks` runs over `vec4s` vec4s in blocks of `block`:
/// a team per block, the last block perhaps short. Each writes one partial
/// sum.
pub fn team_invocations(vec4s: u64, block: u64) -> u64 {
    vec4s.div_ceil(block) * TEAM
}

/// The `read_blocks` invocation that sums vec4 `i` in blocks of `block`:
/// member `i % TEAM` of the team owning `i`'s block.
pub fn team_member(i: u64, block: u64) -> u64 {
    i / block * TEAM + i % TEAM
}

/// The streaming operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamOp {
    /// c = a
    Copy,
    /// b = s * c
    Scale,
    /// c = a + b
    Add,
    /// a = b + s * c
    Triad,
    /// per-invocation partial sums of a . b, into c
    Dot,
    /// per-invocation partial sums of a, into c
    Read,
    /// as `Read`, each team of neighbouring invocations streaming its own
    /// contiguous block
    ReadBlocks,
}

impl std::fmt::Display for StreamOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl StreamOp {
    /// In the order they run (each depends on the previous one's output).
    pub const ALL: [Self; 7] = [
        Self::Copy,
        Self::Scale,
        Self::Add,
        Self::Triad,
        Self::Dot,
        Self::Read,
        Self::ReadBlocks,
    ];

    /// Entry point name in the shader, also the op's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Scale => "scale",
            Self::Add => "add",
            Self::Triad => "triad",
            Self::Dot => "dot",
            Self::Read => "read",
            Self::ReadBlocks => "read_blocks",
        }
    }

    /// Arrays read per element.
    pub fn reads(self) -> u64 {
        match self {
            Self::Copy | Self::Scale | Self::Read | Self::ReadBlocks => 1,
            Self::Add | Self::Triad | Self::Dot => 2,
        }
    }

    /// Bytes one dispatch moves over `elements` f32 elements with
    /// `invocations` invocations: reads + writes.
    pub fn bytes(self, elements: u64, invocations: u64) -> u64 {
        let read = self.reads() * 4 * elements;
        match self {
            Self::Dot | Self::Read | Self::ReadBlocks => read + 16 * invocations.min(elements / 4),
            Self::Copy | Self::Scale | Self::Add | Self::Triad => read + 4 * elements,
        }
    }

    /// Index of the array the op writes (0 = a, 1 = b, 2 = c).
    pub fn output(self) -> usize {
        match self {
            Self::Copy | Self::Add | Self::Dot | Self::Read | Self::ReadBlocks => 2,
            Self::Scale => 1,
            Self::Triad => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_dispatch_by_hand() {
        // 1 Mi elements of 4 bytes: copy/scale read 1 array and write 1,
        // add/triad read 2 and write 1.
        let n = 1 << 20;
        assert_eq!(StreamOp::Copy.bytes(n, 4096), 8 << 20);
        assert_eq!(StreamOp::Scale.bytes(n, 4096), 8 << 20);
        assert_eq!(StreamOp::Add.bytes(n, 4096), 12 << 20);
        assert_eq!(StreamOp::Triad.bytes(n, 4096), 12 << 20);
        // dot: 2 arrays read, one 16-byte partial per invocation written
        assert_eq!(StreamOp::Dot.bytes(n, 4096), (8 << 20) + 16 * 4096);
        // never more partials than vec4 elements
        assert_eq!(StreamOp::Dot.bytes(16, 4096), 8 * 16 + 16 * 4);
        // read: one array read, one 16-byte partial per invocation written
        assert_eq!(StreamOp::Read.bytes(n, 4096), (4 << 20) + 16 * 4096);
        assert_eq!(StreamOp::ReadBlocks.bytes(n, 4096), (4 << 20) + 16 * 4096);
    }

    #[test]
    fn read_blocks_teams_by_hand() {
        // Blocks of 512 vec4s, a team of 8 each: 1024 vec4s are 2 teams,
        // 1025 a third (one vec4 long), 10007 are 20 (ceil(10007 / 512)).
        assert_eq!(team_invocations(1024, TEAM_BLOCK), 16);
        assert_eq!(team_invocations(1025, TEAM_BLOCK), 24);
        assert_eq!(team_invocations(10_007, TEAM_BLOCK), 160);
        // Member l of a team takes l, l + 8, ...: vec4 7 is member 7, 8
        // member 0 again; the second team starts at vec4 512 (invocation 8),
        // the third at 1024 (invocation 16): 1031 is its member 7.
        let owners = [0, 7, 8, 511, 512, 520, 1031].map(|i| team_member(i, TEAM_BLOCK));
        assert_eq!(owners, [0, 7, 0, 7, 8, 8, 23]);
    }

    #[test]
    fn read_blocks_grow_to_fit_the_dispatch() {
        // 20 blocks of 512 fit 20 or more teams as they are.
        assert_eq!(team_block(10_007, 20), 512);
        assert_eq!(team_block(10_007, 65_535), 512);
        // 19 teams: blocks of 1024 (10 teams), as for 10; 6 teams: 2048.
        assert_eq!(team_block(10_007, 19), 1024);
        assert_eq!(team_block(10_007, 10), 1024);
        assert_eq!(team_block(10_007, 6), 2048);
        // 128 MiB (8 Mi vec4s, 16384 blocks) with workgroups of 1 under
        // 65535 a dimension (8191 teams): blocks of 1536, 5462 teams.
        let (n, block) = (8 << 20, team_block(8 << 20, 65_535 / 8));
        assert_eq!(block, 1536);
        assert_eq!(team_invocations(n, block), 5462 * 8);
        assert_eq!(team_member(1536 + 9, block), 9);
    }
}
