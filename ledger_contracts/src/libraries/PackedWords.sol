// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PackedWords
/// @notice Reads and writes fixed-width unsigned lanes inside 256-bit words: eight uint32 lanes
/// (bids, loads, capacities in Wh) or sixteen uint16 lanes (turn order, hop distances) per word.
/// @dev Lane `k` of a word occupies bits [k * width, (k + 1) * width). Callers keep `lane` below
/// the lane count and values below 2^width; nothing here checks either. An array of lanes is
/// stored in a `mapping(uint256 word => uint256)`, entry `k` in lane `k % lanes` of word `k / lanes`.
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

    /// @dev Entry `k` of the uint16 array stored in `words`.
    function u16At(mapping(uint256 => uint256) storage words, uint256 k) internal view returns (uint256) {
        return getU16(words[k / U16_LANES], k % U16_LANES);
    }

    /// @dev Stores `values` (each below 2^16) as a uint16 array in `words`, one write per word.
    function storeU16s(mapping(uint256 => uint256) storage words, uint256[] memory values) internal {
        uint256 word;
        for (uint256 k; k < values.length; ++k) {
            uint256 lane = k % U16_LANES;
            word = setU16(word, lane, values[k]);
            if (lane == U16_LANES - 1 || k + 1 == values.length) {
                words[k / U16_LANES] = word;
                word = 0;
            }
        }
    }

    /// @dev Stores `values` as a uint16 array in `words`, one write per word.
    function storeU16s(mapping(uint256 => uint256) storage words, uint16[] memory values) internal {
        uint256[] memory wide = new uint256[](values.length);
        for (uint256 k; k < values.length; ++k) {
            wide[k] = values[k];
        }
        storeU16s(words, wide);
    }

    /// @dev `count` entries of the uint32 array stored in `words` from word key `base`.
    function loadU32s(mapping(uint256 => uint256) storage words, uint256 base, uint256 count)
        internal
        view
        returns (uint256[] memory values)
    {
        values = new uint256[](count);
        uint256 word;
        for (uint256 j; j < count; ++j) {
            uint256 lane = j % U32_LANES;
            if (lane == 0) word = words[base + j / U32_LANES];
            values[j] = getU32(word, lane);
        }
    }
}
