// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {GridToken} from "../src/GridToken.sol";
import {Test} from "./utils/Test.sol";

/// @notice The settlement token: 6 decimals, only the operator mints and burns.
contract GridTokenTest is Test {
    GridToken internal token;
    address internal operator;
    address internal forwarder;
    address internal holder;

    function setUp() public {
        operator = makeAddr("operator");
        forwarder = makeAddr("forwarder");
        holder = makeAddr("holder");
        token = new GridToken(operator, forwarder);
    }

    function test_metadata() public view {
        assertEq(token.decimals(), 6);
        assertEq(keccak256(bytes(token.symbol())), keccak256("GRID"));
        assertEq(token.owner(), operator);
        assertTrue(token.isTrustedForwarder(forwarder));
        assertEq(token.totalSupply(), 0);
    }

    function test_mint_byOperator() public {
        vm.prank(operator);
        token.mint(holder, 1_500_000);
        assertEq(token.balanceOf(holder), 1_500_000);
        assertEq(token.totalSupply(), 1_500_000);
    }

    function test_mint_revertsWhenNotOperator() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        token.mint(holder, 1);
    }

    function test_burn_fromOperatorsWallet() public {
        vm.startPrank(operator);
        token.mint(operator, 1_000);
        token.burn(400);
        vm.stopPrank();
        assertEq(token.balanceOf(operator), 600);
        assertEq(token.totalSupply(), 600);
    }

    function test_burn_revertsWhenNotOperator() public {
        vm.prank(operator);
        token.mint(holder, 1_000);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        token.burn(1);
    }

    /// @dev A call relayed by the trusted forwarder acts for the address appended to its calldata.
    function test_approve_actsForRelayedSender() public {
        address spender = makeAddr("spender");
        bytes memory data = abi.encodePacked(abi.encodeCall(token.approve, (spender, 777)), holder);
        vm.prank(forwarder);
        (bool ok,) = address(token).call(data);
        assertTrue(ok);
        assertEq(token.allowance(holder, spender), 777);
        assertEq(token.allowance(forwarder, spender), 0);
    }
}
