// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IMarket} from "./IMarket.sol";
import {ISettlement} from "./ISettlement.sol";
import {PackedWords} from "./libraries/PackedWords.sol";
import {SettlementMath} from "./libraries/SettlementMath.sol";

/// @title Settlement
/// @notice Escrow, trades, metered delivery, grid imports and exports, and contribution metrics
/// for the games of one Market (rules and the conservation argument: `docs/settlement.md`).
/// @dev Every token this contract holds belongs to one game (`GameBook.held`): a buyer's escrow
/// enters with its demand and leaves as a refund, a payment to a seller, or the operator's
/// income. Trades are not stored: the allocation stays in the Market (final once bidding ended),
/// each seller's price and every participant's zone are snapshotted in its `Party` record, and
/// the hop matrix in the game's book, so later hop changes cannot move a fixed price.
contract Settlement is ISettlement, ERC2771Context {
    using SafeERC20 for IERC20;
    using PackedWords for uint256;

    /// @inheritdoc ISettlement
    uint256 public constant MAX_READING_WH = type(uint32).max;

    /// @dev The Market's role names (the Market is the one registry of roles).
    bytes32 private constant _CLOCK_ROLE = keccak256("CLOCK_ROLE");
    bytes32 private constant _METER_ROLE = keccak256("METER_ROLE");

    IMarket private immutable _market;
    IERC20 private immutable _token;
    address private immutable _operator;

    struct GameData {
        GameBook book;
        mapping(uint256 word => uint256) hopWords;
        mapping(address account => Party) parties;
    }

    /// @dev A seller as trades need it: its address, energy price and zone.
    struct Seller {
        address account;
        uint256 price;
        uint256 zone;
    }

    mapping(uint256 gameId => GameData) private _games;
    mapping(address account => uint256) private _escrows;

    /// @param market_ The market whose games are settled (it must then `setSettlement` to this).
    /// @param token_ The settlement token.
    /// @param operator_ The grid's counterparty.
    /// @param trustedForwarder The `GridForwarder` relaying the clock's and meters' signed requests.
    constructor(IMarket market_, IERC20 token_, address operator_, address trustedForwarder)
        ERC2771Context(trustedForwarder)
    {
        if (address(market_) == address(0) || address(token_) == address(0) || operator_ == address(0)) {
            revert SettlementZeroAddress();
        }
        _market = market_;
        _token = token_;
        _operator = operator_;
    }

    // =============================================================== market hook

    /// @inheritdoc ISettlement
    function escrowDemand(uint256 gameId, address buyer, uint256 wh) external {
        if (msg.sender != address(_market)) revert SettlementOnlyMarket(msg.sender);
        (uint256 amount, uint256 maxHop) = escrowFor(gameId, buyer, wh);
        uint256 balance = _token.balanceOf(buyer);
        if (balance < amount) revert SettlementInsufficientBalance(buyer, balance, amount);
        uint256 allowance = _token.allowance(buyer, address(this));
        if (allowance < amount) revert SettlementInsufficientAllowance(buyer, allowance, amount);

        GameData storage g = _games[gameId];
        Party storage p = g.parties[buyer];
        // Safe casts: wh < 2^32 and the unit price < 2^81, so amount < 2^113; maxHop is a uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
        p.escrowed = uint128(amount);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.locked = uint128(amount);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.maxHop = uint16(maxHop);
        // forge-lint: disable-next-line(unsafe-typecast)
        g.book.held += uint128(amount);
        _escrows[buyer] += amount;
        emit EscrowLocked(gameId, buyer, wh, maxHop, amount);
        _token.safeTransferFrom(buyer, address(this), amount);
    }

    // =============================================================== fixing trades

    /// @inheritdoc ISettlement
    function fixTrades(uint256 gameId, uint256 maxBuyers) external returns (bool done) {
        if (maxBuyers == 0) revert SettlementZeroChunk();
        GameData storage g = _games[gameId];
        GameBook memory book = g.book;
        if (book.status >= Status.TradesFixed) revert SettlementTradesAlreadyFixed(gameId);
        IMarket.Phase phase = _market.phase(gameId);
        if (phase != IMarket.Phase.Converged) revert SettlementBiddingNotEnded(gameId, phase);

        Seller[] memory sellers = book.status == Status.Open ? _priceSellers(gameId, g, book) : _sellers(gameId, g);
        IMarket.Demand[] memory demands = _market.demands(gameId);
        uint256 start = book.cursor;
        uint256 end = start + maxBuyers;
        if (end > demands.length) end = demands.length;
        uint256[] memory refunds = new uint256[](end);
        for (uint256 k = start; k < end; ++k) {
            refunds[k] = _fixBuyer(gameId, g, book, sellers, demands[k]);
        }
        done = end == demands.length;
        // Safe cast: end <= buyers <= Market.MAX_BUYERS < 2^16.
        // forge-lint: disable-next-line(unsafe-typecast)
        book.cursor = done ? 0 : uint16(end);
        if (done) {
            book.status = Status.TradesFixed;
            // Safe cast: block times fit in 64 bits for billions of years.
            // forge-lint: disable-next-line(unsafe-typecast)
            book.fixedAt = uint64(block.timestamp);
        }
        g.book = book;
        if (done) emit TradesFixed(gameId, demands.length, sellers.length);

        for (uint256 k = start; k < end; ++k) {
            if (refunds[k] != 0) _token.safeTransfer(demands[k].buyer, refunds[k]);
        }
    }

    /// @dev First call of {fixTrades}: snapshots prices, delivery end and hop matrix into `book`
    /// (memory; the caller stores it), prices every seller under its final load and records it.
    function _priceSellers(uint256 gameId, GameData storage g, GameBook memory book)
        private
        returns (Seller[] memory sellers)
    {
        (IMarket.GameParams memory params, IMarket.GamePrices memory prices,) = _market.game(gameId);
        book.status = Status.FixingTrades;
        book.retail = prices.retail;
        book.feedIn = prices.feedIn;
        book.transmissionFee = prices.transmissionFee;
        book.deliveryEnd = params.deliveryEnd;
        book.zoneCount = _snapshotHops(g);

        IMarket.Offer[] memory offers = _market.offers(gameId);
        uint256[] memory loads = _market.gameState(gameId).loads;
        sellers = new Seller[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            sellers[j] = _priceSeller(gameId, g, offers[j], loads[j], prices.retail);
        }
    }

    /// @dev Copies the market's hop matrix into the game's book; returns the zone count.
    function _snapshotHops(GameData storage g) private returns (uint16 zoneCount) {
        uint16[] memory distances;
        (zoneCount, distances) = _market.hopDistances();
        uint256 word;
        for (uint256 k; k < distances.length; ++k) {
            uint256 lane = k % PackedWords.U16_LANES;
            word = word.setU16(lane, distances[k]);
            if (lane == PackedWords.U16_LANES - 1 || k + 1 == distances.length) {
                g.hopWords[k / PackedWords.U16_LANES] = word;
                word = 0;
            }
        }
    }

    /// @dev Records a seller's energy price under its final `load` and its zone.
    function _priceSeller(uint256 gameId, GameData storage g, IMarket.Offer memory offer, uint256 load, uint256 retail)
        private
        returns (Seller memory seller)
    {
        uint256 zone = _market.prosumer(offer.seller).zone;
        uint256 price = SettlementMath.energyPrice(offer.price, offer.wh, load, retail);
        seller = Seller(offer.seller, price, zone);
        Party storage p = g.parties[offer.seller];
        // Safe casts: price <= retail (uint64); a load is within a uint32 capacity; zone is a uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
        p.energyPrice = uint64(price);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.tradedWh = uint32(load);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.zone = uint16(zone);
        p.tradesFixed = true;
        emit SellerPriced(gameId, offer.seller, load, price);
    }

    /// @dev The sellers as priced by the first {fixTrades} call.
    function _sellers(uint256 gameId, GameData storage g) private view returns (Seller[] memory sellers) {
        IMarket.Offer[] memory offers = _market.offers(gameId);
        sellers = new Seller[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            Party storage p = g.parties[offers[j].seller];
            sellers[j] = Seller(offers[j].seller, p.energyPrice, p.zone);
        }
    }

    /// @dev Fixes one buyer's trades: its cost and import reserve stay locked; returns the refund
    /// (the caller transfers it).
    function _fixBuyer(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        Seller[] memory sellers,
        IMarket.Demand memory demand
    ) private returns (uint256 refund) {
        address buyer = demand.buyer;
        Party storage p = g.parties[buyer];
        uint256 zone = _market.prosumer(buyer).zone;
        (uint256 costMilli, uint256 bought) = _emitTrades(gameId, g, book, sellers, buyer, zone);
        uint256 cost = SettlementMath.ceilDiv(costMilli, SettlementMath.WH_PER_KWH);
        // The buyer's bid is within its demand, so demand.wh - bought cannot underflow.
        uint256 locked = cost + SettlementMath.charge(demand.wh - bought, book.retail);
        uint256 escrowed = p.escrowed;
        // cost <= escrowed always (unit prices are capped at g + t x maxHop); the reserve may be cut.
        if (locked > escrowed) locked = escrowed;
        refund = escrowed - locked;

        // Safe casts: locked <= escrowed (uint128); bought <= demand (uint32); zone is a uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
        p.locked = uint128(locked);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.tradedWh = uint32(bought);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.zone = uint16(zone);
        p.tradesFixed = true;
        // forge-lint: disable-next-line(unsafe-typecast)
        book.held -= uint128(refund);
        _escrows[buyer] -= refund;
        emit BuyerTradesFixed(gameId, buyer, bought, cost, locked, refund);
    }

    /// @dev Emits one {TradeFixed} per positive entry of `buyer`'s final bid; returns the trades'
    /// cost in thousandths of a base unit and the energy bought.
    function _emitTrades(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        Seller[] memory sellers,
        address buyer,
        uint256 zone
    ) private returns (uint256 costMilli, uint256 bought) {
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        uint256 maxHop = g.parties[buyer].maxHop;
        for (uint256 j; j < bids.length; ++j) {
            if (bids[j] == 0) continue;
            uint256 hops = _hops(g, book.zoneCount, zone, sellers[j].zone, maxHop);
            costMilli += _emitTrade(gameId, buyer, sellers[j], bids[j], hops, book.transmissionFee);
            bought += bids[j];
        }
    }

    /// @dev Emits the trade of `wh` Wh from `seller` to `buyer` over `hops` hops; returns its cost
    /// in thousandths of a base unit.
    function _emitTrade(
        uint256 gameId,
        address buyer,
        Seller memory seller,
        uint256 wh,
        uint256 hops,
        uint256 feePerHop
    ) private returns (uint256 costMilli) {
        uint256 unitPrice = seller.price + feePerHop * hops;
        emit TradeFixed(gameId, buyer, seller.account, wh, seller.price, hops, unitPrice);
        return wh * unitPrice;
    }

    // =============================================================== metering

    /// @inheritdoc ISettlement
    function postReading(uint256 gameId, address account, uint256 producedWh, uint256 consumedWh) external {
        _checkRole(_METER_ROLE);
        GameData storage g = _games[gameId];
        Status status = g.book.status;
        if (status < Status.TradesFixed) revert SettlementTradesNotFixed(gameId, status);
        if (status > Status.TradesFixed) revert SettlementGameClosing(gameId, status);
        (IMarket.Role role, uint256 index) = _market.participant(gameId, account);
        if (role == IMarket.Role.None) revert SettlementNotParticipant(gameId, account);
        Party storage p = g.parties[account];
        if (p.read) revert SettlementAlreadyRead(gameId, account);
        if (producedWh > MAX_READING_WH) revert SettlementReadingTooLarge(producedWh, MAX_READING_WH);
        if (consumedWh > MAX_READING_WH) revert SettlementReadingTooLarge(consumedWh, MAX_READING_WH);

        // Safe casts: both readings were just checked to fit in 32 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        p.producedWh = uint32(producedWh);
        // forge-lint: disable-next-line(unsafe-typecast)
        p.consumedWh = uint32(consumedWh);
        p.read = true;
        // Cannot overflow: one reading per participant, at most MAX_SELLERS + MAX_BUYERS < 2^16.
        ++g.book.readings;
        emit ReadingPosted(gameId, account, producedWh, consumedWh);

        if (p.tradedWh == 0) return;
        if (role == IMarket.Role.Seller) _deliverAsSeller(gameId, g, account, index);
        else _deliverAsBuyer(gameId, g, account);
    }

    /// @dev A buyer's reading completes its trades with every seller already read: one transfer
    /// per seller paid.
    function _deliverAsBuyer(uint256 gameId, GameData storage g, address buyer) private {
        Party storage bp = g.parties[buyer];
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        IMarket.Offer[] memory offers = _market.offers(gameId);
        uint256[] memory amounts = new uint256[](bids.length);
        for (uint256 j; j < bids.length; ++j) {
            if (bids[j] == 0) continue;
            Party storage sp = g.parties[offers[j].seller];
            if (!sp.read) continue;
            amounts[j] = _deliver(gameId, g, buyer, bp, offers[j].seller, sp, bids[j]);
        }
        for (uint256 j; j < amounts.length; ++j) {
            if (amounts[j] != 0) _token.safeTransfer(offers[j].seller, amounts[j]);
        }
    }

    /// @dev A seller's reading (seller number `index`) completes its trades with every buyer
    /// already read: one transfer to the seller.
    function _deliverAsSeller(uint256 gameId, GameData storage g, address seller, uint256 index) private {
        Party storage sp = g.parties[seller];
        IMarket.Demand[] memory demands = _market.demands(gameId);
        uint256 total;
        for (uint256 i; i < demands.length; ++i) {
            address buyer = demands[i].buyer;
            Party storage bp = g.parties[buyer];
            if (!bp.read || bp.tradedWh == 0) continue;
            uint256 wh = _market.bidOf(gameId, buyer)[index];
            if (wh == 0) continue;
            total += _deliver(gameId, g, buyer, bp, seller, sp, wh);
        }
        if (total != 0) _token.safeTransfer(seller, total);
    }

    /// @dev Pays the delivered part of the trade `buyer`-`seller` of `tradeWh` Wh (both read);
    /// returns the seller's amount (the caller transfers it).
    function _deliver(
        uint256 gameId,
        GameData storage g,
        address buyer,
        Party storage bp,
        address seller,
        Party storage sp,
        uint256 tradeWh
    ) private returns (uint256 amount) {
        uint256 wh = SettlementMath.delivered(tradeWh, sp.tradedWh, sp.producedWh, bp.tradedWh, bp.consumedWh);
        if (wh == 0) return 0;
        uint256 chargedMilli;
        uint256 spent;
        (amount, chargedMilli, spent) = _recordDelivery(g, bp, sp, wh);
        _escrows[buyer] -= spent;
        emit TradeDelivered(gameId, buyer, seller, wh, amount, chargedMilli);
    }

    /// @dev Books `wh` delivered Wh of a trade: the seller's amount is rounded down, the buyer's
    /// charge kept exact in thousandths; returns the seller's amount, the charge, and how much more
    /// of the buyer's escrow is now spent (its spent escrow is its total charge rounded up).
    function _recordDelivery(GameData storage g, Party storage bp, Party storage sp, uint256 wh)
        private
        returns (uint256 amount, uint256 chargedMilli, uint256 spent)
    {
        GameBook storage book = g.book;
        uint256 transmissionMilli = wh * book.transmissionFee * _hops(g, book.zoneCount, bp.zone, sp.zone, bp.maxHop);
        uint256 energyPrice = sp.energyPrice;
        chargedMilli = wh * energyPrice + transmissionMilli;
        amount = SettlementMath.credit(wh, energyPrice);
        uint256 before = bp.chargedMilli;
        bp.chargedMilli = before + chargedMilli;
        spent = SettlementMath.ceilDiv(before + chargedMilli, SettlementMath.WH_PER_KWH)
            - SettlementMath.ceilDiv(before, SettlementMath.WH_PER_KWH);
        // Safe casts: delivered energy never exceeds the traded energy (uint32), summed per side;
        // a trade's transmission is below 2^113 and all of them are bounded by the escrow (uint128).
        // forge-lint: disable-next-line(unsafe-typecast)
        bp.deliveredWh += uint32(wh);
        // forge-lint: disable-next-line(unsafe-typecast)
        sp.deliveredWh += uint32(wh);
        // forge-lint: disable-next-line(unsafe-typecast)
        book.transmissionMilli += uint128(transmissionMilli);
        // forge-lint: disable-next-line(unsafe-typecast)
        book.held -= uint128(amount);
    }

    // =============================================================== close

    /// @inheritdoc ISettlement
    function closeGame(uint256 gameId, uint256 maxItems) external returns (bool done) {
        _checkRole(_CLOCK_ROLE);
        if (maxItems == 0) revert SettlementZeroChunk();
        GameData storage g = _games[gameId];
        GameBook storage book = g.book;
        Status status = book.status;
        if (status == Status.Closed) revert SettlementGameClosed(gameId);
        if (status < Status.TradesFixed) revert SettlementTradesNotFixed(gameId, status);
        if (block.timestamp < book.deliveryEnd) {
            revert SettlementDeliveryNotEnded(gameId, book.deliveryEnd, block.timestamp);
        }

        IMarket.Demand[] memory demands = _market.demands(gameId);
        IMarket.Offer[] memory offers = _market.offers(gameId);
        // Items: every buyer, then the operator's income, then every seller.
        uint256 buyers = demands.length;
        uint256 items = buyers + 1 + offers.length;
        uint256 start = book.cursor;
        uint256 end = start + maxItems;
        if (end > items) end = items;
        done = end == items;
        // Safe cast: items <= 2 x 1024 + 1 < 2^16.
        // forge-lint: disable-next-line(unsafe-typecast)
        book.cursor = uint16(end);
        book.status = done ? Status.Closed : Status.Closing;
        if (status == Status.TradesFixed) emit ClosingStarted(gameId);

        for (uint256 k = start; k < end; ++k) {
            if (k < buyers) _closeBuyer(gameId, g, demands[k].buyer);
            else if (k == buyers) _payIncome(gameId, book);
            else _closeSeller(gameId, g, offers[k - buyers - 1].seller);
        }
        if (done) emit GameClosed(gameId);
    }

    /// @dev Releases a buyer's escrow: its delivered trades are spent, its grid import is paid from
    /// the rest first, and what remains is refunded; the grid balance left is settled wallet to wallet.
    function _closeBuyer(uint256 gameId, GameData storage g, address buyer) private {
        Party storage p = g.parties[buyer];
        GameBook storage book = g.book;
        uint256 spent = SettlementMath.ceilDiv(p.chargedMilli, SettlementMath.WH_PER_KWH);
        uint256 available = p.locked - spent;
        bool read = p.read;
        // A buyer's delivered energy never exceeds its consumption (pro rata shares round down).
        uint256 importWh = read ? p.consumedWh - p.deliveredWh : 0;
        uint256 exportWh = read ? p.producedWh : 0;
        uint256 importCharge = SettlementMath.charge(importWh, book.retail);
        uint256 exportCredit = SettlementMath.credit(exportWh, book.feedIn);
        uint256 toGrid = importCharge < available ? importCharge : available;
        uint256 refund = available - toGrid;

        p.settled = true;
        // Safe casts: toGrid and refund are parts of the buyer's escrow (< 2^113).
        // forge-lint: disable-next-line(unsafe-typecast)
        book.importsFromEscrow += uint128(toGrid);
        // forge-lint: disable-next-line(unsafe-typecast)
        book.held -= uint128(refund);
        _escrows[buyer] -= available;
        if (read) emit GridSettled(gameId, buyer, importWh, importCharge, exportWh, exportCredit);
        else emit ReadingMissing(gameId, buyer);
        emit EscrowReleased(gameId, buyer, spent, toGrid, refund);

        if (refund != 0) _token.safeTransfer(buyer, refund);
        _settleGrid(gameId, buyer, importCharge - toGrid, exportCredit);
        if (read) _market.recordMetering(buyer, p.producedWh, p.consumedWh);
    }

    /// @dev Pays the operator everything the game still holds once every buyer is released:
    /// transmission fees, imports paid from escrow, and the rounding dust.
    function _payIncome(uint256 gameId, GameBook storage book) private {
        uint256 income = book.held;
        uint256 transmission = book.transmissionMilli / SettlementMath.WH_PER_KWH;
        uint256 imports = book.importsFromEscrow;
        // income >= transmission + imports: every buyer spent at least the exact cost of its
        // delivered trades (rounded up) and every seller got at most its exact share (rounded down).
        uint256 dust = income - transmission - imports;
        book.held = 0;
        emit GameIncomePaid(gameId, _operator, transmission, imports, dust);
        if (income != 0) _token.safeTransfer(_operator, income);
    }

    /// @dev Settles a seller's grid position (it holds no escrow).
    function _closeSeller(uint256 gameId, GameData storage g, address seller) private {
        Party storage p = g.parties[seller];
        p.settled = true;
        if (!p.read) {
            emit ReadingMissing(gameId, seller);
            return;
        }
        GameBook storage book = g.book;
        // A seller's delivered energy never exceeds its production (pro rata shares round down).
        uint256 importWh = p.consumedWh;
        uint256 exportWh = p.producedWh - p.deliveredWh;
        uint256 importCharge = SettlementMath.charge(importWh, book.retail);
        uint256 exportCredit = SettlementMath.credit(exportWh, book.feedIn);
        emit GridSettled(gameId, seller, importWh, importCharge, exportWh, exportCredit);
        _settleGrid(gameId, seller, importCharge, exportCredit);
        _market.recordMetering(seller, p.producedWh, p.consumedWh);
    }

    /// @dev Nets what `account` owes the grid (`owed`) against what the grid owes it (`owedTo`)
    /// and pays the difference wallet to wallet.
    function _settleGrid(uint256 gameId, address account, uint256 owed, uint256 owedTo) private {
        if (owedTo > owed) _pay(gameId, _operator, account, owedTo - owed);
        else if (owed > owedTo) _pay(gameId, account, _operator, owed - owedTo);
    }

    /// @dev Moves up to `amount` from `payer`'s wallet to `payee`'s, within the payer's balance and
    /// its allowance to this contract; records the rest as debt. Never reverts for want of funds.
    function _pay(uint256 gameId, address payer, address payee, uint256 amount) private {
        uint256 balance = _token.balanceOf(payer);
        uint256 allowance = _token.allowance(payer, address(this));
        uint256 paid = amount;
        if (paid > balance) paid = balance;
        if (paid > allowance) paid = allowance;
        if (paid < amount) emit DebtRecorded(gameId, payer, payee, amount - paid);
        if (paid == 0) return;
        emit GridPaid(gameId, payer, payee, paid);
        _token.safeTransferFrom(payer, payee, paid);
    }

    // =============================================================== views

    /// @inheritdoc ISettlement
    function market() external view returns (IMarket) {
        return _market;
    }

    /// @inheritdoc ISettlement
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc ISettlement
    function operator() external view returns (address) {
        return _operator;
    }

    /// @inheritdoc ISettlement
    function gameBook(uint256 gameId) external view returns (GameBook memory) {
        return _games[gameId].book;
    }

    /// @inheritdoc ISettlement
    function party(uint256 gameId, address account) external view returns (Party memory) {
        return _games[gameId].parties[account];
    }

    /// @inheritdoc ISettlement
    function escrowOf(address account) external view returns (uint256) {
        return _escrows[account];
    }

    /// @inheritdoc ISettlement
    function escrowFor(uint256 gameId, address buyer, uint256 wh) public view returns (uint256 amount, uint256 maxHop) {
        (, IMarket.GamePrices memory prices,) = _market.game(gameId);
        uint256 zone = _market.prosumer(buyer).zone;
        (uint16 zoneCount, uint16[] memory distances) = _market.hopDistances();
        for (uint256 k = zone * zoneCount; k < (zone + 1) * zoneCount; ++k) {
            if (distances[k] > maxHop) maxHop = distances[k];
        }
        amount = SettlementMath.escrow(wh, prices.retail, prices.transmissionFee, maxHop);
    }

    // =============================================================== internals

    /// @dev The hop distance charged between zones `from` and `to`: the snapshotted matrix,
    /// capped at the distance the buyer's escrow covers.
    function _hops(GameData storage g, uint256 zoneCount, uint256 from, uint256 to, uint256 maxHop)
        private
        view
        returns (uint256 hops)
    {
        uint256 k = from * zoneCount + to;
        hops = g.hopWords[k / PackedWords.U16_LANES].getU16(k % PackedWords.U16_LANES);
        if (hops > maxHop) hops = maxHop;
    }

    /// @dev Reverts unless the caller holds `role` in the Market.
    function _checkRole(bytes32 role) private view {
        address caller = _msgSender();
        if (!IAccessControl(address(_market)).hasRole(role, caller)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(caller, role);
        }
    }
}
