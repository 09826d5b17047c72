// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PackedWords} from "../../src/libraries/PackedWords.sol";
import {Test} from "../utils/Test.sol";

contract PackedWordsTest is Test {
    using PackedWords for uint256;

    function test_u32Words_roundsUp() public pure {
        assertEq(PackedWords.u32Words(0), 0);
        assertEq(PackedWords.u32Words(1), 1);
        assertEq(PackedWords.u32Words(8), 1);
        assertEq(PackedWords.u32Words(9), 2);
    }

    function test_fuzz_setU32_changesOnlyItsLane(uint256 word, uint8 lane, uint32 value) public pure {
        uint256 k = bound(lane, 0, 7);
        uint256 updated = word.setU32(k, value);
        for (uint256 other; other < 8; ++other) {
            assertEq(updated.getU32(other), other == k ? value : word.getU32(other));
        }
    }

    function test_fuzz_setU16_changesOnlyItsLane(uint256 word, uint8 lane, uint16 value) public pure {
        uint256 k = bound(lane, 0, 15);
        uint256 updated = word.setU16(k, value);
        for (uint256 other; other < 16; ++other) {
            assertEq(updated.getU16(other), other == k ? value : word.getU16(other));
        }
    }
}
