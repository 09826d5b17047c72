// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PackedWords
/// @notice Reads and writes fixed-width unsigned lanes inside 256-bit words: eight uint32 lanes
/// (bids, loads, capacities in Wh) or sixteen uint16 lanes (turn order, hop distances) per word.
/// @dev Lane `k` of a word occupies bits [k * width, (k + 1) * width). Callers keep `lane` below
/// the lane count and values below 2^width; nothing here checks either.
library PackedWords {
    uint256 internal constant U32_LANES = 8;
    uint256 internal constant U16_LANES = 16;
    uint256 internal constant U32_MASK = 0xffffffff;
    uint256 internal constant U16_MASK = 0xffff;

    /// @dev Number of words holding `count` uint32 lanes.
    function u32Words(uint256 count) internal pure returns (uint256) {
        // Cannot overflow: counts are bounded by the market's uint16 limits.
        unchecked {
            return (count + U32_LANES - 1) / U32_LANES;
        }
    }

    function getU32(uint256 word, uint256 lane) internal pure returns (uint256) {
        // Cannot overflow: lane < 8, so the shift is below 256.
        unchecked {
            return (word >> (lane * 32)) & U32_MASK;
        }
    }

    function setU32(uint256 word, uint256 lane, uint256 value) internal pure returns (uint256) {
        // Cannot overflow: lane < 8, so the shift is below 256.
        unchecked {
            uint256 shift = lane * 32;
            return (word & ~(U32_MASK << shift)) | (value << shift);
        }
    }

    function getU16(uint256 word, uint256 lane) internal pure returns (uint256) {
        // Cannot overflow: lane < 16, so the shift is below 256.
        unchecked {
            return (word >> (lane * 16)) & U16_MASK;
        }
    }

    function setU16(uint256 word, uint256 lane, uint256 value) internal pure returns (uint256) {
        // Cannot overflow: lane < 16, so the shift is below 256.
        unchecked {
            uint256 shift = lane * 16;
            return (word & ~(U16_MASK << shift)) | (value << shift);
        }
    }
}
